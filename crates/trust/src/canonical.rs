//! Canonical JSON (RFC 8785, JCS) and a byte-exact reproduction of Python's
//! `json.dumps(…, sort_keys=True)` for the legacy formats.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("integer `{0}` is outside ±2^53 and has no exact canonical form; write it as a string")]
    UnsafeInteger(String),
}

const MAX_SAFE: u64 = 1 << 53;

/// The RFC 8785 form of `value`: object keys sorted by UTF-16 code units,
/// no whitespace, numbers as ECMAScript prints them, minimal string escapes.
pub fn canonicalize(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    jcs(value, &mut out)?;
    Ok(out)
}

fn jcs(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&es_number(n)?),
        Value::String(s) => jcs_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs_string(k, out);
                out.push(':');
                jcs(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript's Number-to-String, which JCS prescribes. JCS numbers are
/// doubles, and ECMAScript writes a double from 2^53 to 1e21 as digits
/// (`1e16` as `10000000000000000`, 2^60 as `1152921504606847000`), so an
/// integer past ±2^53 is a double when it is exactly one or is written as
/// one is written: canonical text then reads back to the same canonical
/// text. Any other (`9007199254740993`) names no double and is refused.
fn es_number(n: &Number) -> Result<String, CanonicalError> {
    let (text, f, exact) = if let Some(u) = n.as_u64() {
        if u <= MAX_SAFE {
            return Ok(u.to_string());
        }
        let f = u as f64;
        // Float-to-integer casts saturate: 2^64 - 1 is not 2^64.
        (u.to_string(), f, f as u128 == u128::from(u))
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE {
            return Ok(i.to_string());
        }
        let f = i as f64;
        (i.to_string(), f, f as i128 == i128::from(i))
    } else {
        return Ok(es_double(n.as_f64().unwrap_or(0.0)));
    };
    let written = es_double(f);
    if exact || written == text {
        Ok(written)
    } else {
        Err(CanonicalError::UnsafeInteger(text))
    }
}

fn es_double(f: f64) -> String {
    if f == 0.0 {
        return "0".to_string();
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format_finite(f).to_string()
}

fn jcs_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `json.dumps(value, sort_keys=True, separators=(item, key))`
/// with `ensure_ascii=True`: keys sorted by code point, non-ASCII escaped as
/// `\uXXXX` (surrogate pairs above U+FFFF), floats as Python's `repr`.
pub fn python_dumps(value: &Value, item_separator: &str, key_separator: &str) -> String {
    let mut out = String::new();
    py(value, item_separator, key_separator, &mut out);
    out
}

fn py(value: &Value, item: &str, key: &str, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                out.push_str(&python_float_repr(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => py_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                py(v, item, key, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Rust orders strings by UTF-8 bytes, which is code-point order, as Python does.
            entries.sort_by_key(|(k, _)| *k);
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                py_string(k, out);
                out.push_str(key);
                py(v, item, key, out);
            }
            out.push('}');
        }
    }
}

fn py_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{:04x}", u);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in [-4, 16), else `d.ddde±XX`.
pub fn python_float_repr(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".to_string()
        } else {
            "0.0".to_string()
        };
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(f.abs());
    // Split ryu's output into significant digits and a decimal exponent.
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut point = int_part.len() as i32 + exp; // digits before the decimal point
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    point -= leading as i32;
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let exp10 = point - 1; // exponent of the first significant digit
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp10) {
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp10 < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exp10.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jcs_orders_keys_by_utf16_and_prints_es_numbers() {
        let v: Value = serde_json::from_str(
            r#"{"b": 1.0, "a": [1e21, 1e-7, 0.5, -0.0], "\u00e9": "é\n", "\ud83d\ude00": 1}"#,
        )
        .unwrap();
        assert_eq!(
            canonicalize(&v).unwrap(),
            "{\"a\":[1e+21,1e-7,0.5,0],\"b\":1,\"é\":\"é\\n\",\"😀\":1}"
        );
        assert!(canonicalize(&json!(9_007_199_254_740_993u64)).is_err());
    }

    /// Regression (found by the `envelope` fuzz target): the double 1e16
    /// is written `10000000000000000`, which reads back as an integer past
    /// 2^53; that integer was refused, so a bundle holding `1e16` had a
    /// digest whose canonical text had none (an agent refused the version
    /// it was pushed as). An integer that is exactly a double, or is
    /// written as its double is, is that double; any other is refused.
    #[test]
    fn canonical_text_reads_back_to_itself_past_two_to_the_53() {
        for text in [
            "1e16",
            "-1e16",
            "1e20",
            "1.2345678901234568e17",
            "9007199254740994",
            "18446744073709549568",
            "-9223372036854775808",
            "1152921504606846976",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let canonical = canonicalize(&v).unwrap();
            let again: Value = serde_json::from_str(&canonical).unwrap();
            assert_eq!(canonicalize(&again).unwrap(), canonical, "{text}");
        }
        assert_eq!(canonicalize(&json!(1e16)).unwrap(), "10000000000000000");
        assert_eq!(
            canonicalize(&json!(10_000_000_000_000_000u64)).unwrap(),
            "10000000000000000"
        );
        assert_eq!(
            canonicalize(&json!(1_152_921_504_606_847_000u64)).unwrap(),
            "1152921504606847000"
        );
        for inexact in [
            json!(9_007_199_254_740_993u64),
            json!(u64::MAX),
            json!(-9_007_199_254_740_993i64),
            json!(i64::MAX),
        ] {
            assert!(canonicalize(&inexact).is_err(), "{inexact}");
        }
    }

    #[test]
    fn python_float_repr_matches_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn python_dumps_escapes_like_ensure_ascii() {
        let v: Value =
            serde_json::from_str(r#"{"z": "é😀\u0001", "a": [1, 1.0, true, null]}"#).unwrap();
        assert_eq!(
            python_dumps(&v, ", ", ": "),
            r#"{"a": [1, 1.0, true, null], "z": "\u00e9\ud83d\ude00\u0001"}"#
        );
        assert_eq!(
            python_dumps(&v, ",", ":"),
            r#"{"a":[1,1.0,true,null],"z":"\u00e9\ud83d\ude00\u0001"}"#
        );
    }
}
