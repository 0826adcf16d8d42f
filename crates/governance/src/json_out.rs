//! The decision-log line and the evaluation written as JSON by hand, byte
//! for byte what `serde_json` writes for the same records (the tests below
//! compare the two on random records): a batch writes 100,000 of each, and
//! serde's per-key escaping and writer calls were a sixth of its
//! instructions. Keys are written as literals, strings escaped in runs;
//! numbers and free-form JSON values still go through `serde_json`.

use serde_json::Value;

use crate::{Evaluation, LogLine, Overrides};

/// `s` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`,
/// the five control characters with short escapes, the other control
/// characters as `\u00xx`; everything else as it is.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(plain..i).unwrap_or_default());
        if short.is_empty() {
            // `b` is below 0x20: its high digit is 0 or 1.
            let digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', digit(b >> 4), digit(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        plain = i + 1;
    }
    out.extend_from_slice(bytes.get(plain..).unwrap_or_default());
    out.push(b'"');
}

fn optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn strings(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A value `serde_json` writes (numbers, free-form JSON).
fn serde(out: &mut Vec<u8>, value: &impl serde::Serialize) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, value)
}

fn optional_value(out: &mut Vec<u8>, v: Option<&Value>) -> serde_json::Result<()> {
    match v {
        Some(v) => serde(out, v),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A decision-log line (its keys sorted, as `LogLine` declares them).
pub(crate) fn log_line(out: &mut Vec<u8>, l: &LogLine<'_>) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"dag_impact\":");
    optional_value(out, l.dag_impact)?;
    out.extend_from_slice(b",\"decision\":");
    boolean(out, l.decision);
    out.extend_from_slice(b",\"forecast_confidence\":");
    serde(out, &l.forecast_confidence)?;
    out.extend_from_slice(b",\"forecast_projections\":");
    optional_value(out, l.forecast_projections)?;
    out.extend_from_slice(b",\"patch_summary\":");
    optional_string(out, l.patch_summary);
    out.extend_from_slice(b",\"reason_codes\":");
    strings(out, l.reason_codes);
    out.extend_from_slice(b",\"timestamp\":");
    serde(out, &l.timestamp)?;
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(l.verdict.as_str().as_bytes());
    out.extend_from_slice(b"\",\"workflow_id\":");
    optional_string(out, l.workflow_id.as_deref());
    out.push(b'}');
    Ok(())
}

/// An evaluation as `{workflow_id, verdict, reason_codes, overrides,
/// foresight}`, the fields of `overrides` that are set only.
pub(crate) fn evaluation(out: &mut Vec<u8>, e: &Evaluation) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"workflow_id\":");
    optional_string(out, e.workflow_id.as_deref());
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(e.verdict.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reason_codes\":");
    strings(out, &e.reason_codes);
    out.extend_from_slice(b",\"overrides\":");
    overrides(out, &e.overrides);
    out.extend_from_slice(b",\"foresight\":");
    serde(out, &e.foresight)?;
    out.push(b'}');
    Ok(())
}

fn overrides(out: &mut Vec<u8>, o: &Overrides) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &[u8]| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
    };
    if let Some(m) = &o.mode {
        key(out, b"mode");
        string(out, m);
    }
    if let Some(a) = o.applied {
        key(out, b"applied");
        boolean(out, a);
    }
    if let Some(id) = &o.override_id {
        key(out, b"override_id");
        string(out, id);
    }
    if let Some(l) = o.legacy {
        key(out, b"legacy");
        boolean(out, l);
    }
    if let Some(r) = &o.refused {
        key(out, b"refused");
        string(out, r);
    }
    if let Some(b) = o.bypass_micro_pilot {
        key(out, b"bypass_micro_pilot");
        boolean(out, b);
    }
    if let Some(v) = o.forced_verdict {
        key(out, b"forced_verdict");
        string(out, v.as_str());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Foresight, Verdict};
    use proptest::prelude::*;
    use serde_json::json;

    /// Strings of every kind of character: the escaped ones, multi-byte
    /// UTF-8, and plain text, in runs.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\u{7f}'),
                Just('é'),
                Just('\u{2028}'),
                Just('😀'),
                (0u8..0x20).prop_map(char::from),
                prop::char::range('a', 'z'),
            ],
            0..12,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn verdict() -> impl Strategy<Value = Verdict> {
        prop::sample::select(vec![
            Verdict::Promote,
            Verdict::Demote,
            Verdict::Pilot,
            Verdict::NoGo,
            Verdict::Borderline,
        ])
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(1e300),
            Just(0.1 + 0.2),
            any::<f64>(),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            text().prop_map(Value::String),
            number().prop_map(|n| json!(n)),
            (text(), number()).prop_map(|(k, n)| json!({ k: n, "z": [1, "x", null] })),
        ]
    }

    fn evaluation_strategy() -> impl Strategy<Value = Evaluation> {
        let overrides = (
            (
                prop::option::of(text()),
                prop::option::of(any::<bool>()),
                prop::option::of(text()),
                prop::option::of(any::<bool>()),
            ),
            (
                prop::option::of(text()),
                prop::option::of(any::<bool>()),
                prop::option::of(verdict()),
            ),
        )
            .prop_map(
                |((mode, applied, override_id, legacy), (refused, bypass, forced))| Overrides {
                    mode,
                    applied,
                    override_id,
                    legacy,
                    refused,
                    bypass_micro_pilot: bypass,
                    forced_verdict: forced,
                },
            );
        let foresight = prop::option::of(
            (
                prop::collection::vec(text(), 0..3),
                verdict(),
                value(),
                prop::option::of(number()),
            )
                .prop_map(|(reason_codes, recommendation, projections, confidence)| {
                    Foresight {
                        reason_codes,
                        recommendation,
                        projections,
                        confidence,
                    }
                }),
        );
        (
            prop::option::of(text()),
            verdict(),
            prop::collection::vec(text(), 0..4),
            overrides,
            foresight,
        )
            .prop_map(
                |(workflow_id, verdict, reason_codes, overrides, foresight)| Evaluation {
                    workflow_id,
                    verdict,
                    reason_codes,
                    overrides,
                    foresight,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn evaluations_are_written_as_serde_writes_them(e in evaluation_strategy()) {
            let mut ours = Vec::new();
            evaluation(&mut ours, &e).unwrap();
            let theirs = serde_json::to_vec(&e).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }

        #[test]
        fn log_lines_are_written_as_serde_writes_them(
            e in evaluation_strategy(),
            dag_impact in prop::option::of(value()),
            confidence in prop::option::of(number()),
            projections in prop::option::of(value()),
            patch_summary in prop::option::of(text()),
            timestamp in any::<i64>(),
        ) {
            let line = LogLine {
                dag_impact: dag_impact.as_ref(),
                decision: e.verdict == Verdict::Promote,
                forecast_confidence: confidence,
                forecast_projections: projections.as_ref(),
                patch_summary: patch_summary.as_deref(),
                reason_codes: &e.reason_codes,
                timestamp,
                verdict: e.verdict,
                workflow_id: &e.workflow_id,
            };
            let mut ours = Vec::new();
            log_line(&mut ours, &line).unwrap();
            let theirs = serde_json::to_vec(&line).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }

    #[test]
    fn every_byte_below_0x80_is_escaped_as_serde_escapes_it() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let mut ours = Vec::new();
        string(&mut ours, &all);
        assert_eq!(ours, serde_json::to_vec(&all).unwrap());
    }
}
