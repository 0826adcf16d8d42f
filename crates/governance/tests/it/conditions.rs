//! Conditions read as Python reads them (issue 26): `//`, `%`, `**`, unary
//! `+`, `abs`, `min`, `max`, `round` and `in`/`not in` a literal list. Each
//! expected value is what `python3` gives for the same expression and
//! variables, except where noted (Gavel's documented differences).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gavel_governance::expr::{self, EvalError, MAX_DEPTH, MAX_LEN, Val};
use gavel_governance::{NAMES, OverrideInput, Policy, PolicyError, Verdict};
use serde_json::{Value, json};

use crate::{codes, evaluate};

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code, reason = "a counting wrapper around the system allocator")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwards the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The variables of every case, in `NAMES`' slot order: raroi 1.25,
/// confidence 0.5, min_scenario None, score_variance -7, sandbox_roi 0,
/// adapter_roi 2.5, alignment_status 'pass', security_status None.
fn vars() -> [Val<'static>; 16] {
    let mut v = [Val::None; 16];
    v[0] = Val::Num(1.25);
    v[1] = Val::Num(0.5);
    v[3] = Val::Num(-7.0);
    v[4] = Val::Num(0.0);
    v[5] = Val::Num(2.5);
    v[6] = Val::Str("pass");
    v
}

/// What an expression gives.
#[derive(Debug)]
enum Want {
    /// A float, to the bit (Python printed a float: the sign of a zero
    /// counts).
    Float(f64),
    /// A number Python printed as an int (it has no negative zero).
    Int(f64),
    Other(Val<'static>),
    Skip(EvalError),
}

fn n(x: f64) -> Want {
    Want::Float(x)
}
fn i(x: f64) -> Want {
    Want::Int(x)
}
fn b(x: bool) -> Want {
    Want::Other(Val::Bool(x))
}
fn skip(e: EvalError) -> Want {
    Want::Skip(e)
}

fn same(want: &Want, got: Result<Val<'_>, EvalError>) -> bool {
    match (want, got) {
        (Want::Float(x), Ok(Val::Num(y))) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Want::Int(x), Ok(Val::Num(y))) => *x == y,
        (Want::Other(x), Ok(y)) => *x == y,
        (Want::Skip(x), Err(y)) => *x == y,
        _ => false,
    }
}

/// Evaluates each case; `holds` must agree with the value's truthiness.
fn check(cases: &[(&str, Want)]) {
    let vars = vars();
    let mut failures = Vec::new();
    for (src, want) in cases {
        let e = expr::parse(src, &NAMES).unwrap_or_else(|e| panic!("`{src}`: {e}"));
        let got = e.eval(&vars);
        if !same(want, got) {
            failures.push(format!("`{src}`: expected {want:?}, got {got:?}"));
        }
        let truthy = got.map(|v| match v {
            Val::None => false,
            Val::Bool(b) => b,
            Val::Num(n) => n != 0.0,
            Val::Str(s) => !s.is_empty(),
        });
        if e.holds(&vars) != truthy {
            failures.push(format!("`{src}`: holds disagrees with {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn operators_and_functions_give_what_python_gives() {
    check(&[
        // The four operators that were there before, for completeness.
        (r#"raroi + 0.5 * 3"#, n(2.75)),
        (r#"raroi - 3 / 4"#, n(0.5)),
        (r#"1 - -raroi"#, n(2.25)),
        (r#"7 // 2"#, i(3.0)),
        (r#"-7 // 2"#, i(-4.0)),
        (r#"7 // -2"#, i(-4.0)),
        (r#"-7 // -2"#, i(3.0)),
        (r#"-7.5 // 2"#, n(-4.0)),
        (r#"7.5 // -2"#, n(-4.0)),
        (r#"score_variance // 2"#, n(-4.0)),
        (r#"raroi // 1"#, n(1.0)),
        (r#"raroi // 0.5"#, n(2.0)),
        (r#"0.0 // -1"#, n(-0.0)),
        (r#"1 // 0"#, skip(EvalError::DivisionByZero)),
        (r#"raroi // 0"#, skip(EvalError::DivisionByZero)),
        (r#"min_scenario // 2"#, skip(EvalError::Type)),
        (r#"alignment_status // 2"#, skip(EvalError::Type)),
        (r#"True // 2"#, i(0.0)),
        (r#"-1e-300 // 1e300"#, n(-1.0)),
        (r#"7 % 3"#, i(1.0)),
        (r#"-7 % 3"#, i(2.0)),
        (r#"7 % -3"#, i(-2.0)),
        (r#"-7 % -3"#, i(-1.0)),
        (r#"-7.5 % 2"#, n(0.5)),
        (r#"7.5 % -2"#, n(-0.5)),
        (r#"score_variance % 3"#, n(2.0)),
        (r#"-1e-20 % 1"#, n(1.0)),
        (r#"raroi % 1"#, n(0.25)),
        (r#"6 % 3"#, i(0.0)),
        (r#"-6 % 3"#, i(0.0)),
        (r#"6 % -3"#, i(0.0)),
        (r#"1 % 0"#, skip(EvalError::DivisionByZero)),
        (r#"raroi % 0.0"#, skip(EvalError::DivisionByZero)),
        (r#"None % 2"#, skip(EvalError::Type)),
        // Floats: the zero takes the divisor's sign; quotients that floats
        // cannot hold exactly snap to Python's integer.
        (r#"6.0 % -3"#, n(-0.0)),
        (r#"-6.0 % 3"#, n(0.0)),
        (r#"-0.0 % 3"#, n(0.0)),
        (r#"0.3 // 0.1"#, n(2.0)),
        (r#"0.3 % 0.1"#, n(0.09999999999999998)),
        (r#"1 // 0.1"#, n(9.0)),
        (r#"1 % 0.1"#, n(0.09999999999999995)),
        (r#"-1 // 0.1"#, n(-10.0)),
        (r#"-1 % 0.1"#, n(5.551115123125783e-17)),
        (r#"7 // 0.7"#, n(10.0)),
        (r#"7 % 0.7"#, n(4.440892098500626e-16)),
        (r#"1e308 // 1e-308"#, n(f64::INFINITY)),
        (r#"-7.0 // 1e300"#, n(-1.0)),
        (r#"5 % 1e300"#, n(5.0)),
        (r#"-5 % 1e300"#, n(1e300)),
        (r#"1e-300 // 1e300"#, n(0.0)),
        (r#"-1e-300 // -1e300"#, n(0.0)),
        (r#"1e-300 // -1e300"#, n(-1.0)),
        // The float quotient is 2.9999999999999996: Python says 3.
        (r#"2.4 // 0.7"#, n(3.0)),
        (r#"8.7 // 0.1"#, n(86.0)),
        (r#"2 ** 3"#, i(8.0)),
        (r#"2 ** 3 ** 2"#, i(512.0)),
        (r#"(2 ** 3) ** 2"#, i(64.0)),
        (r#"-2 ** 2"#, i(-4.0)),
        (r#"(-2) ** 2"#, i(4.0)),
        (r#"-2 ** -2"#, n(-0.25)),
        (r#"2 ** -1"#, n(0.5)),
        (r#"-raroi ** 2"#, n(-1.5625)),
        (r#"2 ** -2 ** 2"#, n(0.0625)),
        (r#"4 ** 0.5"#, n(2.0)),
        (r#"raroi ** 2"#, n(1.5625)),
        (r#"(-8) ** 3"#, i(-512.0)),
        (r#"(-8) ** (1/3)"#, skip(EvalError::Type)),
        (r#"0 ** -1"#, skip(EvalError::DivisionByZero)),
        (r#"0 ** 0"#, i(1.0)),
        (r#"0 ** 2"#, i(0.0)),
        (r#"10.0 ** 400"#, skip(EvalError::Overflow)),
        (r#"raroi ** 4000"#, skip(EvalError::Overflow)),
        (r#"(-2.0) ** 1025"#, skip(EvalError::Overflow)),
        (r#"10.0 ** -400"#, n(0.0)),
        (r#"2 ** 2 * 3"#, i(12.0)),
        (r#"2 * 3 ** 2"#, i(18.0)),
        (r#"-3 ** 2 // 2"#, i(-5.0)),
        (r#"None ** 2"#, skip(EvalError::Type)),
        (r#"0 ** 0.5"#, n(0.0)),
        (r#"(-0.0) ** 0.5"#, n(0.0)),
        // An infinity (from a float overflow) to a power is no overflow.
        (r#"(1e308 * 10) ** 2"#, n(f64::INFINITY)),
        (r#"(-1e308 * 10) ** 0.5"#, n(f64::INFINITY)),
        (r#"'a' ** 2"#, skip(EvalError::Type)),
        (r#"True ** 2"#, i(1.0)),
        (r#"+raroi"#, n(1.25)),
        (r#"+-raroi"#, n(-1.25)),
        (r#"-+2"#, i(-2.0)),
        (r#"+True"#, i(1.0)),
        (r#"+alignment_status"#, skip(EvalError::Type)),
        (r#"+min_scenario"#, skip(EvalError::Type)),
        (r#"abs(score_variance)"#, n(7.0)),
        (r#"abs(-0.0)"#, n(0.0)),
        (r#"abs(raroi - 2)"#, n(0.75)),
        (r#"abs(True)"#, i(1.0)),
        (r#"abs(-3) ** 2"#, i(9.0)),
        (r#"abs(min_scenario)"#, skip(EvalError::Type)),
        (r#"abs(alignment_status)"#, skip(EvalError::Type)),
        (r#"min(raroi, confidence)"#, n(0.5)),
        (r#"max(raroi, confidence)"#, n(1.25)),
        (r#"min(3, 1, 2)"#, i(1.0)),
        (r#"max(3, 1, 2)"#, i(3.0)),
        (r#"min(1, 1.0)"#, i(1.0)),
        (r#"min(1.0, 1)"#, n(1.0)),
        (r#"max(True, 1)"#, b(true)),
        (r#"min(2, True)"#, b(true)),
        (r#"min(raroi, min_scenario)"#, skip(EvalError::Type)),
        // Python orders strings; Gavel skips a rule that orders one (§11.12).
        (r#"max(alignment_status, 'z')"#, skip(EvalError::Type)),
        (r#"max(-raroi, score_variance, 0)"#, i(0.0)),
        (r#"min(raroi, 2,)"#, n(1.25)),
        (r#"max(abs(score_variance), raroi * 2)"#, n(7.0)),
        (r#"round(0.5)"#, i(0.0)),
        (r#"round(1.5)"#, i(2.0)),
        (r#"round(2.5)"#, i(2.0)),
        (r#"round(-0.5)"#, i(0.0)),
        (r#"round(-1.5)"#, i(-2.0)),
        (r#"round(-2.5)"#, i(-2.0)),
        (r#"round(3.5)"#, i(4.0)),
        (r#"round(2.4999)"#, i(2.0)),
        (r#"round(raroi)"#, i(1.0)),
        (r#"round(adapter_roi)"#, i(2.0)),
        (r#"round(0.125, 2)"#, n(0.12)),
        (r#"round(0.375, 2)"#, n(0.38)),
        (r#"round(2.675, 2)"#, n(2.67)),
        (r#"round(-0.125, 2)"#, n(-0.12)),
        (r#"round(1.25, 1)"#, n(1.2)),
        (r#"round(1.35, 1)"#, n(1.4)),
        (r#"round(raroi, 1)"#, n(1.2)),
        (r#"round(1/3, 5)"#, n(0.33333)),
        (r#"round(2.5, 0)"#, n(2.0)),
        (r#"round(5, 2)"#, i(5.0)),
        (r#"round(1e300, 3)"#, n(1e+300)),
        (r#"round(1250, -2)"#, i(1200.0)),
        (r#"round(1350, -2)"#, i(1400.0)),
        (r#"round(1250.4, -2)"#, n(1300.0)),
        (r#"round(-1250, -2)"#, i(-1200.0)),
        (r#"round(15, -1)"#, i(20.0)),
        (r#"round(25, -1)"#, i(20.0)),
        (r#"round(5, -1)"#, i(0.0)),
        (r#"round(4.9, -1)"#, n(0.0)),
        (r#"round(0.4, -1)"#, n(0.0)),
        (r#"round(149.99999, -2)"#, n(100.0)),
        (r#"round(999, -1)"#, i(1000.0)),
        (r#"round(999.5, -3)"#, n(1000.0)),
        (r#"round(123.456, -400)"#, n(0.0)),
        (r#"round(5.0, 400)"#, n(5.0)),
        (r#"round(5e-324, 323)"#, n(0.0)),
        (r#"round(0.0, -400)"#, n(0.0)),
        (r#"round(5.0, -2)"#, n(0.0)),
        (r#"round(-49.9, -3)"#, n(-0.0)),
        (r#"round(50.0, -2)"#, n(0.0)),
        (r#"round(51.0, -2)"#, n(100.0)),
        (r#"round(1.7e308, 400)"#, n(1.7e308)),
        (r#"round(4e-324, 400)"#, n(5e-324)),
        (r#"round(1e22, -22)"#, n(1e+22)),
        (r#"round(1.2e308, -308)"#, n(1e+308)),
        (r#"round(1.7e308, -308)"#, skip(EvalError::Overflow)),
        (r#"round(raroi, None)"#, i(1.0)),
        (r#"round(raroi, True)"#, n(1.2)),
        (r#"round(2.5, 0.5)"#, skip(EvalError::Type)),
        (r#"round(min_scenario)"#, skip(EvalError::Type)),
        (r#"round(alignment_status)"#, skip(EvalError::Type)),
        (r#"round(raroi, 'a')"#, skip(EvalError::Type)),
        (r#"round(1e300 * 1e300)"#, skip(EvalError::Overflow)),
        (r#"round(1e300 * 1e300, 2)"#, n(f64::INFINITY)),
        (r#"alignment_status in ('pass', 'fail')"#, b(true)),
        (r#"alignment_status in ('PASS', 'fail')"#, b(false)),
        (r#"alignment_status not in ('PASS', 'fail')"#, b(true)),
        (r#"alignment_status in ['pass']"#, b(true)),
        (r#"alignment_status in ('pass',)"#, b(true)),
        (r#"raroi in (1.25, 2)"#, b(true)),
        (r#"raroi in [1, 2]"#, b(false)),
        (r#"1 in (1.0,)"#, b(true)),
        (r#"1.0 in [1]"#, b(true)),
        (r#"True in (1, 2)"#, b(true)),
        (r#"1 in (True,)"#, b(true)),
        (r#"0 in (False,)"#, b(true)),
        (r#"False in (0,)"#, b(true)),
        (r#"'1' in (1,)"#, b(false)),
        (r#"1 in ('1',)"#, b(false)),
        (r#"min_scenario in (None,)"#, b(true)),
        (r#"min_scenario in (0, '', False)"#, b(false)),
        (r#"security_status not in (None,)"#, b(false)),
        (r#"None in ()"#, b(false)),
        (r#"1 not in []"#, b(true)),
        (r#"raroi * 4 in (5, 6)"#, b(true)),
        (r#"-1 in (-1,)"#, b(true)),
        (r#"score_variance in (-7, +7)"#, b(true)),
        (r#"raroi in (1, 2,)"#, b(false)),
        (r#"not raroi in (1.25,)"#, b(false)),
        (
            r#"raroi in (1.25,) and alignment_status in ('pass',)"#,
            b(true),
        ),
        (r#"(raroi in (1,)) == False"#, b(true)),
        (r#"alignment_status in ('pass', 1, None, True)"#, b(true)),
        (r#"confidence in (0.5, 'pass')"#, b(true)),
        // Python's integers are exact at any size; here numbers are floats,
        // so an integer power past 1.8e308 skips the rule like a float one.
        (r#"10 ** 400 > 1"#, skip(EvalError::Overflow)),
        (r#"10 ** 400 > 1 or True"#, skip(EvalError::Overflow)),
        (r#"True or 10 ** 400 > 1"#, b(true)),
    ]);
}

/// The message of the load error of a policy whose one rule has this
/// condition, checked to name the rule and its condition.
fn load_error(condition: &str) -> (String, usize) {
    let doc = json!({"rules": [
        {"decision": "promote", "condition": "True"},
        {"decision": "no_go", "condition": condition},
    ]});
    let PolicyError(problems) = Policy::from_json(&doc).unwrap_err();
    let [p] = problems.as_slice() else {
        panic!("`{condition}`: {problems:?}")
    };
    assert_eq!(
        (p.rule, p.pointer.as_str()),
        (Some(1), "/rules/1/condition")
    );
    (p.message.clone(), p.position.unwrap())
}

#[test]
fn calls_and_lists_that_python_would_not_run_are_load_errors_naming_the_rule() {
    for (condition, message, position) in [
        (
            "raroi > sqrt(2)",
            "unknown function `sqrt`; known functions: abs, max, min, round",
            8,
        ),
        (
            "__import__('os')",
            "unknown function `__import__`; known functions: abs, max, min, round",
            0,
        ),
        (
            "raroi(1) > 0",
            "`raroi` is a value, not a function; functions: abs, max, min, round",
            0,
        ),
        ("abs() > 0", "`abs` takes one value, found 0", 0),
        ("abs(raroi, 1) > 0", "`abs` takes one value, found 2", 0),
        (
            "1 < min(raroi)",
            "`min` takes two or more values, found 1 (with one, Python expects a list, which conditions do not have)",
            4,
        ),
        (
            "max() > 0",
            "`max` takes two or more values, found 0 (with one, Python expects a list, which conditions do not have)",
            0,
        ),
        (
            "round() > 0",
            "`round` takes a value and optionally a number of digits, found 0 arguments",
            0,
        ),
        (
            "round(raroi, 1, 2) > 0",
            "`round` takes a value and optionally a number of digits, found 3 arguments",
            0,
        ),
        ("abs(raroi", "expected `,` or `)`", 9),
        ("abs(raroi raroi)", "expected `,` or `)`", 10),
        (
            "alignment_status in alignment_status",
            "`in` takes a list of values, such as `('a', 'b')` or `[1, 2]`",
            20,
        ),
        (
            "alignment_status in 'pass'",
            "`in` takes a list of values, such as `('a', 'b')` or `[1, 2]`",
            20,
        ),
        (
            "alignment_status in ('pass')",
            "one value in parentheses is not a tuple; write `(value,)` or `[value]`",
            20,
        ),
        (
            "raroi not in (1)",
            "one value in parentheses is not a tuple; write `(value,)` or `[value]`",
            13,
        ),
        (
            "raroi in (confidence,)",
            "a list after `in` holds only numbers, strings, True, False and None",
            10,
        ),
        ("raroi in (1 + 1,)", "expected `,` or `)`", 12),
        (
            "raroi in (-'a',)",
            "a list after `in` holds only numbers, strings, True, False and None",
            11,
        ),
        (
            "raroi in (-True,)",
            "a list after `in` holds only numbers, strings, True, False and None",
            11,
        ),
        ("raroi in [1, 2", "the list is not closed; expected `]`", 14),
        ("raroi in (1,", "the list is not closed; expected `)`", 12),
        ("raroi in [1 2]", "expected `,` or `]`", 12),
        (
            "raroi in (1,) == True",
            "`in` is not chained with other comparisons; add parentheses",
            14,
        ),
        (
            "raroi in (1,) in (True,)",
            "`in` is not chained with other comparisons; add parentheses",
            14,
        ),
        (
            "raroi in (1,) not in (True,)",
            "`in` is not chained with other comparisons; add parentheses",
            14,
        ),
        (
            "0 < raroi in (1,)",
            "`in` is not chained with other comparisons; add parentheses",
            10,
        ),
        (
            "0 < raroi not in (1,)",
            "`in` is not chained with other comparisons; add parentheses",
            10,
        ),
        ("raroi not 1", "unexpected text after the expression", 6),
        ("raroi ** ", "the expression ends too early", 9),
        ("[1]", "unexpected `[`", 0),
        ("raroi]", "unexpected text after the expression", 5),
        ("raroi, 1", "unexpected text after the expression", 5),
        ("(,)", "unexpected `,`", 1),
        ("abs(])", "unexpected `]`", 4),
    ] {
        assert_eq!(
            load_error(condition),
            (message.to_string(), position),
            "`{condition}`"
        );
    }
}

#[test]
fn nesting_and_length_stay_bounded() {
    for deep in [
        format!("{}raroi{}", "abs(".repeat(200), ")".repeat(200)),
        format!("{}1", "2 ** ".repeat(500)),
        format!("{}raroi", "+ ".repeat(500)),
        format!("{}raroi{}", "min(1, ".repeat(200), ")".repeat(200)),
    ] {
        let e = expr::parse(&deep, &NAMES).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
    }
    // Just within the depth: read and evaluated.
    let powers = format!("{}2", "1 ** ".repeat(MAX_DEPTH - 1));
    let e = expr::parse(&powers, &NAMES).unwrap();
    assert_eq!(e.eval(&vars()), Ok(Val::Num(1.0)));
    let powers = format!("{}2", "1 ** ".repeat(MAX_DEPTH));
    assert!(expr::parse(&powers, &NAMES).is_err());
    // A list as long as MAX_LEN allows is read and searched.
    let items = (MAX_LEN - 40) / 2;
    let list = format!("raroi in ({}2,)", "1,".repeat(items - 1));
    assert!(list.len() <= MAX_LEN);
    assert_eq!(
        expr::parse(&list, &NAMES).unwrap().holds(&vars()),
        Ok(false)
    );
    let too_long = format!("raroi in ({}1,)", "1,".repeat(MAX_LEN / 2));
    assert!(
        expr::parse(&too_long, &NAMES)
            .unwrap_err()
            .message
            .contains("longer than")
    );
}

#[test]
fn evaluating_the_new_forms_allocates_nothing() {
    let vars = vars();
    let exprs: Vec<_> = [
        "round(raroi * 1.7, 2) == 2.12 and round(raroi, -1) == 0 and round(adapter_roi) == 2",
        "alignment_status not in ('fail', 'FAIL') and raroi in (1, 1.25)",
        "min(raroi, confidence, 2) ** 2 // 0.1 % 7 == 2 and max(abs(score_variance), 1) == 7",
        "round(1e300, 300) > 0 and round(-123456789.5, -5) < 0 and +raroi > 0",
    ]
    .iter()
    .map(|s| expr::parse(s, &NAMES).unwrap())
    .collect();
    let mut held = [Ok(false); 4];
    let before = allocations();
    for (e, h) in exprs.iter().zip(&mut held) {
        *h = e.holds(&vars);
    }
    assert_eq!(allocations(), before, "evaluation allocated");
    assert_eq!(held, [Ok(true); 4]);
    // The counter is live.
    drop(std::hint::black_box(vec![0u8; 8]));
    assert!(allocations() > before);
}

fn yaml_policy(text: &str) -> Policy {
    let doc = gavel_policy::parse_document(text, gavel_policy::Format::Yaml).unwrap();
    Policy::from_document(&doc, text).unwrap_or_else(|e| panic!("{e}"))
}

fn decide(card: Value, p: &Policy) -> (Verdict, Vec<String>) {
    let e = evaluate(&card, p, &OverrideInput::default());
    (e.verdict, e.reason_codes)
}

/// A menace rule file using the operators menace's evaluator runs (`//`,
/// `%`, `**`, unary `+`) loads unchanged and decides as menace does: each
/// expected verdict is what menace's rule loop (first true rule decides, a
/// rule that raises is skipped) gives for the card.
#[test]
fn a_menace_rule_file_with_python_operators_decides_as_menace_does() {
    let p = yaml_policy(
        r#"
- decision: no_go
  condition: "raroi // 1 < 1 and confidence ** 2 >= 0.25"
  reason_code: raroi_whole_below_one
- decision: pilot
  condition: "-sandbox_roi ** 2 > -0.01 and adapter_roi % 1 == 0.5"
  reason_code: fractional_adapter
- decision: demote
  condition: "score_variance is not None and score_variance * 100 // 1 % 2 == 1"
  reason_code: odd_variance
- decision: promote
  condition: "+raroi >= raroi_threshold ** 2"
  reason_code: meets_baseline
"#,
    );
    let card = |raroi: Value, confidence: f64, sandbox: Value, adapter: Value, scores: Value| {
        json!({"raroi": raroi, "confidence": confidence, "sandbox_roi": sandbox,
               "adapter_roi": adapter, "scenario_scores": scores})
    };
    let null = Value::Null;
    for (c, want) in [
        (
            card(json!(0.99), 0.5, json!(0.2), json!(0.5), null.clone()),
            (Verdict::NoGo, codes(&["raroi_whole_below_one"])),
        ),
        (
            card(json!(-2.5), 0.9, null.clone(), null.clone(), null.clone()),
            (Verdict::NoGo, codes(&["raroi_whole_below_one"])),
        ),
        // 0.49 ** 2 < 0.25, and no other rule holds: the defaults decide.
        (
            card(json!(0.99), 0.49, json!(0.2), json!(0.5), null.clone()),
            (Verdict::NoGo, codes(&["raroi_below_threshold"])),
        ),
        // -(0.05 ** 2) > -0.01, not (-0.05) ** 2.
        (
            card(json!(1.0), 0.9, json!(-0.05), json!(0.5), null.clone()),
            (Verdict::Pilot, codes(&["fractional_adapter"])),
        ),
        (
            card(json!(1.0), 0.9, json!(0.2), json!(1.5), null.clone()),
            (Verdict::Promote, codes(&["meets_baseline"])),
        ),
        // Variance 0.015625: 1.5625 // 1 is 1, odd. The pilot rule raises
        // on a missing sandbox_roi and is skipped.
        (
            card(
                json!(1.0),
                0.9,
                null.clone(),
                null.clone(),
                json!({"a": 0.25, "b": 0.5}),
            ),
            (Verdict::Demote, codes(&["odd_variance"])),
        ),
        // Variance 0.0225: 2.25 // 1 is 2, even.
        (
            card(
                json!(1.0),
                0.9,
                null.clone(),
                null.clone(),
                json!({"a": 0.5, "b": 0.8}),
            ),
            (Verdict::Promote, codes(&["meets_baseline"])),
        ),
        // Every rule raises on a missing raroi.
        (
            card(null.clone(), 0.9, null.clone(), null.clone(), null.clone()),
            (Verdict::NoGo, codes(&["raroi_below_threshold"])),
        ),
    ] {
        assert_eq!(decide(c.clone(), &p), want, "{c}");
    }
}

/// `in` and the functions decide as Python evaluates them. menace's own
/// evaluator refuses calls and tuple or list literals when a rule runs
/// (the rule is then skipped); Gavel reads them as Python does (issue 26).
#[test]
fn a_rule_file_with_in_and_functions_decides_as_python_evaluates_it() {
    let p = yaml_policy(
        r#"
adapter_roi_high: 5
rules:
  - decision: no_go
    condition: "raroi // 1 < 1 and alignment_status in ('pass', 'PASS')"
    reason_code: raroi_whole_below_one
  - decision: pilot
    condition: "round(adapter_roi, 1) not in (0.5, 1.0) and abs(sandbox_roi) < 0.1"
    reason_code: unusual_adapter
  - decision: promote
    condition: "min(raroi, confidence * 2) >= 1 and max(raroi, 2) ** 2 == 4"
    reason_code: meets_baseline
"#,
    );
    let card = |raroi: f64, confidence: f64, sandbox: Value, adapter: Value, status: Value| {
        json!({"raroi": raroi, "confidence": confidence, "sandbox_roi": sandbox,
               "adapter_roi": adapter, "alignment_status": status})
    };
    let null = Value::Null;
    for (c, want) in [
        (
            card(0.99, 0.9, null.clone(), null.clone(), json!("pass")),
            (Verdict::NoGo, codes(&["raroi_whole_below_one"])),
        ),
        // None is in neither; the defaults decide.
        (
            card(0.99, 0.9, null.clone(), null.clone(), null.clone()),
            (Verdict::NoGo, codes(&["raroi_below_threshold"])),
        ),
        // round(0.95, 1) is 0.9 and round(1.05, 1) is 1.1 (the stored
        // values are just below and above), round(1.04, 1) is 1.0.
        (
            card(1.5, 0.9, json!(-0.05), json!(0.95), json!("PASS")),
            (Verdict::Pilot, codes(&["unusual_adapter"])),
        ),
        (
            card(1.5, 0.9, json!(-0.05), json!(1.05), json!("PASS")),
            (Verdict::Pilot, codes(&["unusual_adapter"])),
        ),
        (
            card(1.5, 0.9, json!(-0.05), json!(1.04), json!("PASS")),
            (Verdict::Promote, codes(&["meets_baseline"])),
        ),
        (
            card(1.5, 0.45, null.clone(), null.clone(), null.clone()),
            (Verdict::NoGo, codes(&["confidence_below_threshold"])),
        ),
        (
            card(2.5, 0.9, null.clone(), null.clone(), null.clone()),
            (Verdict::Promote, vec![]),
        ),
    ] {
        assert_eq!(decide(c.clone(), &p), want, "{c}");
    }
}

/// `limit_verdict` chooses the verdict of a variance above `max_variance`
/// or a scenario below its threshold (§4 step 3): `demote` as documented,
/// or `no_go` as menace's `evaluate_workflow` gives. The reason codes stay.
#[test]
fn limit_verdict_chooses_the_verdict_of_the_scenario_limits() {
    let wide = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.5, "b": 0.9}});
    let low = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.6, "b": 0.65}});
    for (setting, verdict) in [
        (None, Verdict::Demote),
        (Some(Value::Null), Verdict::Demote),
        (Some(json!("demote")), Verdict::Demote),
        (Some(json!("no_go")), Verdict::NoGo),
    ] {
        let mut doc = json!({"max_variance": 0.01, "scenario_thresholds": {"a": 0.7, "b": 0.7}});
        if let Some(s) = &setting {
            doc["limit_verdict"] = s.clone();
        }
        let p = Policy::from_json(&doc).unwrap();
        assert_eq!(
            decide(wide.clone(), &p),
            (verdict, codes(&["variance_above_max"])),
            "{setting:?}"
        );
        assert_eq!(
            decide(low.clone(), &p),
            (verdict, codes(&["a_below_min", "b_below_min"])),
            "{setting:?}"
        );
        // Within the limits the setting changes nothing.
        let fine = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.75, "b": 0.8}});
        assert_eq!(decide(fine, &p), (Verdict::Promote, vec![]));
        // Nor the vetoes, which demote whatever it says.
        let vetoed = json!({"raroi": 2, "alignment_status": "fail", "scenario_scores": {"a": 0.1, "b": 0.9}});
        assert_eq!(
            decide(vetoed, &p),
            (Verdict::Demote, codes(&["alignment_veto"]))
        );
    }
    // A forced verdict still replaces it (a limit is not a veto).
    let p = Policy::from_json(&json!({"max_variance": 0.01, "limit_verdict": "no_go"})).unwrap();
    let ovr = OverrideInput {
        forced_verdict: Some(Verdict::Promote),
        ..OverrideInput::default()
    };
    let e = evaluate(&wide, &p, &ovr);
    assert_eq!(
        (e.verdict, e.reason_codes),
        (
            Verdict::Promote,
            codes(&["variance_above_max", "manual_override"])
        )
    );
}

#[test]
fn an_invalid_limit_verdict_is_a_located_load_error() {
    for (value, found) in [
        (json!("pilot"), "\"pilot\""),
        (json!("No_Go"), "\"No_Go\""),
        (json!(true), "true"),
        (json!(["demote"]), "[\"demote\"]"),
    ] {
        let PolicyError(problems) =
            Policy::from_json(&json!({"limit_verdict": value})).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/limit_verdict");
        assert_eq!(
            problems[0].message,
            format!("`limit_verdict` must be `demote` or `no_go`, found `{found}`")
        );
    }
    let text = "max_variance: 0.1\nlimit_verdict: nogo\n";
    let doc = gavel_policy::parse_document(text, gavel_policy::Format::Yaml).unwrap();
    let PolicyError(problems) = Policy::from_document(&doc, text).unwrap_err();
    assert_eq!((problems[0].line, problems[0].column), (Some(2), Some(16)));
}
