//! `Scorecard::from_line`, the one-pass reader of JSON Lines scorecards:
//! whatever it reads, it reads as the JSON tree reader does; what it is
//! not sure of it leaves to that reader (which then says what is wrong).

use gavel_governance::Scorecard;

/// Whether `line` is read in one pass; if it is, the tree reader must
/// read it, and the same way.
#[track_caller]
fn agrees(line: &str) -> bool {
    let Some(fast) = Scorecard::from_line(line) else {
        return false;
    };
    let Some(value) = gavel_policy::parse_json_value(line) else {
        panic!("{line}: read in one pass as {fast:?}, but it is not a JSON document");
    };
    match Scorecard::from_json(&value) {
        // Compared as printed: the two borrow from different texts (floats
        // print exactly).
        Ok(tree) => assert_eq!(format!("{fast:?}"), format!("{tree:?}"), "{line}"),
        Err(e) => panic!("{line}: read in one pass as {fast:?}, the tree reader says {e}"),
    }
    true
}

#[test]
fn common_scorecards_are_read_in_one_pass_as_the_tree_reads_them() {
    for line in [
        r#"{"workflow_id":"wf-1","alignment_status":"pass","raroi":1.25,"confidence":0.9,"sandbox_roi":0.05,"adapter_roi":1.5,"scenario_scores":{"latency":0.7,"accuracy":0.4}}"#,
        r#"{"workflow_id": "wf-2", "raroi": 2, "confidence": 1, "security_status": false}"#,
        r#"  {"raroi": null, "confidence": -0.5, "scenario_scores": {}, "patch_summary": "fix"}  "#,
        "\u{feff}{\"workflow_id\":\"é\",\"alignment_status\":true}",
        r#"{"scenario_scores":{"z":1,"a":0.5,"m":-2},"forecast":null}"#,
        r#"{"alignment":null,"raroi":9007199254740992}"#,
        r#"{"raroi":-9007199254740992,"confidence":1e-300,"adapter_roi":1.5e-3}"#,
        // Integral values written as decimals, below 2^53.
        r#"{"raroi":2.0,"confidence":1.0,"sandbox_roi":-3.0,"scenario_scores":{"a":0.0}}"#,
        "{}",
    ] {
        assert!(agrees(line), "not read in one pass: {line}");
    }
}

#[test]
fn what_it_is_not_sure_of_goes_to_the_tree_reader() {
    for line in [
        // Escapes, unknown and misspelled fields, nested values.
        r#"{"workflow_id":"wf\n1"}"#,
        r#"{"work\u0066low_id":"wf"}"#,
        r#"{"owner":"ops"}"#,
        r#"{"secuirty_status":"fail"}"#,
        r#"{"alignment":{"status":"fail"}}"#,
        r#"{"forecast":{"confidence":0.1}}"#,
        r#"{"alignment":null,"security":null}"#,
        // Given twice, at either level.
        r#"{"raroi":1,"raroi":2}"#,
        r#"{"scenario_scores":{"a":1,"a":2}}"#,
        // Wrong types, which the tree reader reports.
        r#"{"raroi":"1.0"}"#,
        r#"{"workflow_id":7}"#,
        r#"{"alignment_status":1}"#,
        r#"{"scenario_scores":{"a":null}}"#,
        r#"{"scenario_scores":[1]}"#,
        // Numbers the tree reader reads with locations or refuses.
        r#"{"raroi":9007199254740993}"#,
        r#"{"raroi":-9007199254740993}"#,
        r#"{"raroi":1e16}"#,
        r#"{"raroi":-0}"#,
        r#"{"raroi":-0.0}"#,
        r#"{"raroi":1e400}"#,
        r#"{"adapter_roi":1.5e300}"#,
        // Not one scorecard.
        "[]",
        "1",
        r#"{"raroi":1} {"raroi":2}"#,
        r#"{"raroi":1,}"#,
        "{\"workflow_id\":\"a\u{1}b\"}",
    ] {
        assert!(
            Scorecard::from_line(line).is_none(),
            "read in one pass: {line}"
        );
    }
    let many: String = (0..65)
        .map(|i| format!("\"s{i}\":0.5"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(Scorecard::from_line(&format!("{{\"scenario_scores\":{{{many}}}}}")).is_none());
}

/// Lines put together from pieces, some of them wrong: every line the
/// one-pass reader takes, the tree reader reads the same.
#[test]
fn generated_lines_read_the_same_both_ways() {
    let keys = [
        "workflow_id",
        "alignment_status",
        "security_status",
        "raroi",
        "confidence",
        "sandbox_roi",
        "adapter_roi",
        "scenario_scores",
        "patch_summary",
        "alignment",
        "security",
        "forecast",
        "raroi ",
        "confidnce",
        "notes",
    ];
    let values = [
        "null",
        "true",
        "false",
        "0",
        "1",
        "-1",
        "0.5",
        "-2.75",
        "1e3",
        "2.5E-3",
        "123456789",
        "9007199254740992",
        "9007199254740993",
        "-0",
        "0.0",
        "1e16",
        "\"pass\"",
        "\"FAIL\"",
        "\"wf-9\"",
        "\"a\\\"b\"",
        "\"\u{e9}\"",
        "{}",
        "{\"latency\":0.2}",
        "{\"b\":1,\"a\":2.5}",
        "{\"a\":\"x\"}",
        "[]",
        "[1]",
        "{\"status\":\"pass\"}",
    ];
    // SplitMix64: the same lines on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: usize| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    };
    let (mut read, mut total) = (0, 0);
    for _ in 0..20_000 {
        let fields = next(7);
        let body: Vec<String> = (0..fields)
            .map(|_| {
                format!(
                    "\"{}\":{}",
                    keys[next(keys.len())],
                    values[next(values.len())]
                )
            })
            .collect();
        let line = format!("{{{}}}", body.join(if next(2) == 0 { "," } else { ", " }));
        total += 1;
        if agrees(&line) {
            read += 1;
        }
    }
    assert!(read * 10 > total, "only {read} of {total} read in one pass");
}
