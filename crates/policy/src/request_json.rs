//! Requests read from JSON text in one pass, without serde's machinery:
//! the decoding the hot paths (the agent, `gavel decide`) do per request.
//!
//! The reader takes only what it is sure of and gives exactly the
//! [`Request`] the serde path would; on anything else (an escape in a
//! string, a number it does not read itself, a duplicate or unknown key, a
//! wrong type, a syntax error, deep nesting, wide objects) it answers `None`
//! and [`Request::from_json`] decodes the text with serde, which also says
//! what is wrong and where.

use std::borrow::Cow;

use crate::value::{Request, Value, parse_timestamp};

/// Nesting past this is left to the serde path (which has its own limit).
const MAX_DEPTH: usize = 64;
/// Objects wider than this are left to the serde path (its duplicate check
/// for wide objects keeps them linear).
const MAX_KEYS: usize = 16;

impl<'a> Request<'a> {
    /// Decodes a request from JSON text: `{agent, action, context,
    /// timestamp?, request_id?, subject?}`, strings borrowed from `text`.
    /// The same result and the same errors as `serde_json::from_str`, about
    /// twice as fast on typical requests.
    pub fn from_json(text: &'a str) -> Result<Request<'a>, serde_json::Error> {
        match read(text) {
            Some(request) => Ok(request),
            None => serde_json::from_str(text),
        }
    }
}

/// The request `text` holds, when the quick reader is sure of it.
#[inline]
pub(crate) fn read(text: &str) -> Option<Request<'_>> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    r.space();
    r.eat(b'{')?;
    let mut agent = None;
    let mut action = None;
    let mut context = None;
    let mut timestamp = None;
    let mut request_id = None;
    let mut subject = None;
    r.space();
    if r.peek()? == b'}' {
        r.at += 1;
    } else {
        loop {
            r.space();
            let key = r.key()?;
            r.space();
            // A second copy of a key is an error the serde path words.
            match key {
                Key::Agent if agent.is_none() => agent = Some(r.string()?),
                Key::Action if action.is_none() => action = Some(r.string()?),
                Key::Context if context.is_none() => match r.value(0)? {
                    v @ Value::Object(_) => context = Some(v),
                    _ => return None,
                },
                Key::Other("timestamp") if timestamp.is_none() => {
                    timestamp = Some(match r.optional_string()? {
                        Some(t) => Some(parse_timestamp(t).ok()?),
                        None => None,
                    });
                }
                Key::Other("request_id") if request_id.is_none() => {
                    request_id = Some(r.optional_string()?);
                }
                Key::Other("subject") if subject.is_none() => subject = Some(r.optional_string()?),
                _ => return None,
            }
            r.space();
            match r.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.space();
    if r.at != r.bytes.len() {
        return None;
    }
    Some(Request {
        agent: Cow::Borrowed(agent?),
        action: Cow::Borrowed(action?),
        context: context.unwrap_or_else(|| Value::Object(Vec::new())),
        timestamp: timestamp.flatten(),
        request_id: request_id.flatten().map(Cow::Borrowed),
        subject: subject.flatten().map(Cow::Borrowed),
    })
}

/// The fields of a simulation case line (`sim::parse_case_line`), strings
/// borrowed from the text: what the quick reader is sure of, as serde's
/// `RawCase` would hold it.
#[derive(Debug, Default)]
pub(crate) struct CaseFields<'a, 'b> {
    pub case_id: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub action: Option<&'a str>,
    /// Its strings as `copy` made them: borrowed, or owned.
    pub context: Option<Value<'b>>,
    pub timestamp: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub expected_effect: Option<&'a str>,
    /// `Some(None)`: given as `null`.
    pub expected_rule: Option<Option<&'a str>>,
}

/// The case a JSON Lines line holds, when the quick reader is sure of it:
/// every field once, `agent` and `action` strings, `context` an object or
/// `null`, the others strings or `null`. Anything else is `None`, and the
/// line goes to serde, which also words what is wrong. The context's
/// strings are what `copy` makes of them: borrowed from `text`, or copied
/// once into a context that outlives it.
pub(crate) fn read_case<'a, 'b>(
    text: &'a str,
    copy: &impl Fn(&'a str) -> Cow<'b, str>,
) -> Option<CaseFields<'a, 'b>> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut c = CaseFields::default();
    // Seen fields: a second copy is serde's error to word.
    let mut seen = 0u16;
    r.space();
    r.eat(b'{')?;
    r.space();
    if r.peek()? == b'}' {
        r.at += 1;
    } else {
        loop {
            r.space();
            let key = r.string()?;
            r.space();
            r.eat(b':')?;
            r.space();
            let bit = match key {
                "case_id" => {
                    c.case_id = r.optional_string()?;
                    1
                }
                "agent" => {
                    c.agent = Some(r.string()?);
                    2
                }
                "action" => {
                    c.action = Some(r.string()?);
                    4
                }
                "context" => {
                    c.context = match r.value_as(0, copy)? {
                        v @ Value::Object(_) => Some(v),
                        Value::Null => None,
                        _ => return None,
                    };
                    8
                }
                "timestamp" => {
                    c.timestamp = r.optional_string()?;
                    16
                }
                "subject" => {
                    c.subject = r.optional_string()?;
                    32
                }
                "request_id" => {
                    c.request_id = r.optional_string()?;
                    64
                }
                "expected_effect" => {
                    c.expected_effect = r.optional_string()?;
                    128
                }
                "expected_rule" => {
                    c.expected_rule = Some(r.optional_string()?);
                    256
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            r.space();
            match r.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.space();
    (r.at == r.bytes.len() && c.agent.is_some() && c.action.is_some()).then_some(c)
}

/// Where the first `"`, `\\` or control character of `bytes` is, eight
/// bytes at a time. In each word the flags of the zero-byte test are exact
/// up to the first true hit (a false one needs a borrow from a lower hit),
/// so the lowest flag is the first such byte; bytes of 0x80 and above
/// (UTF-8 sequences) are never flagged.
#[inline]
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        // A zero byte in `quote` or `slash`, or a byte below 0x20 in `w`.
        let found = (quote.wrapping_sub(ONES) & !quote
            | slash.wrapping_sub(ONES) & !slash
            | w.wrapping_sub(ONES * 0x20) & !w)
            & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = bytes.get(i..)?;
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// A key of the request object as [`Reader::key`] read it: one of the
/// three usual keys, however written, or any other key as its text.
enum Key<'a> {
    Agent,
    Action,
    Context,
    Other(&'a str),
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Skips white space. Compact text has none: one comparison then.
    #[inline]
    fn space(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
            self.at += 1;
        }
    }

    /// A string without escapes or control characters, borrowed.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        let len = string_end(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so this is a whole `str` slice.
        self.text.get(start..start + len)
    }

    /// A key of the request object and the colon after it. The three keys
    /// requests usually have are matched as they are usually written (quoted,
    /// the colon right after) in one comparison each; any other spelling is
    /// read as a string, and a usual key read so is named as they are.
    #[inline(always)]
    fn key(&mut self) -> Option<Key<'a>> {
        if self.starts(b"\"agent\":") {
            self.at += 8;
            return Some(Key::Agent);
        }
        if self.starts(b"\"action\":") {
            self.at += 9;
            return Some(Key::Action);
        }
        if self.starts(b"\"context\":") {
            self.at += 10;
            return Some(Key::Context);
        }
        let key = self.string()?;
        self.space();
        self.eat(b':')?;
        Some(match key {
            "agent" => Key::Agent,
            "action" => Key::Action,
            "context" => Key::Context,
            other => Key::Other(other),
        })
    }

    /// Whether the text goes on with `word`.
    #[inline(always)]
    fn starts<const N: usize>(&self, word: &[u8; N]) -> bool {
        self.bytes.get(self.at..self.at + N) == Some(word.as_slice())
    }

    /// A string or `null`.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        self.value_as(depth, &Cow::Borrowed)
    }

    /// A value whose strings `text` makes: borrowed from the input, or
    /// copied once, straight into a value that outlives it.
    fn value_as<'b>(
        &mut self,
        depth: usize,
        text: &impl Fn(&'a str) -> Cow<'b, str>,
    ) -> Option<Value<'b>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(|s| Value::String(text(s))),
            b'{' => {
                self.at += 1;
                self.space();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(Value::Object(Vec::new()));
                }
                // Most objects are small: one allocation, no growth on the way.
                let mut entries: Vec<(Cow<'b, str>, Value<'b>)> = Vec::with_capacity(4);
                loop {
                    self.space();
                    let key = self.string()?;
                    if entries.len() >= MAX_KEYS || entries.iter().any(|(k, _)| k == key) {
                        return None;
                    }
                    self.space();
                    self.eat(b':')?;
                    self.space();
                    // Strings and numbers, most of a context's values, read
                    // here rather than through another call.
                    let value = match self.peek()? {
                        b'"' => Value::String(text(self.string()?)),
                        b'0'..=b'9' => Value::Number(self.number()?),
                        _ => self.value_as(depth + 1, text)?,
                    };
                    entries.push((text(key), value));
                    self.space();
                    match self.next()? {
                        b',' => continue,
                        b'}' => return Some(Value::Object(entries)),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(Value::Array(items));
                }
                loop {
                    self.space();
                    items.push(self.value_as(depth + 1, text)?);
                    self.space();
                    match self.next()? {
                        b',' => continue,
                        b']' => return Some(Value::Array(items)),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => None,
        }
    }

    /// A number in JSON's grammar: integers of up to 15 digits exactly (as
    /// serde reads them, then as a double), others through the standard
    /// library's correctly rounded reading (serde_json reads them the same
    /// with `float_roundtrip`); a result that is not finite is left to serde.
    fn number(&mut self) -> Option<f64> {
        let start = self.at;
        let bytes = self.bytes;
        let mut at = start;
        let negative = bytes.get(at) == Some(&b'-');
        if negative {
            at += 1;
        }
        let int_start = at;
        // The integer part's value, read as it is scanned (exact up to 15
        // digits, the only case it is used in).
        let mut value = 0u64;
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => {
                while let Some(&d @ b'0'..=b'9') = bytes.get(at) {
                    value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    at += 1;
                }
            }
            _ => return None,
        }
        let int_digits = at - int_start;
        self.at = at;
        if let Some(b'.' | b'e' | b'E') = bytes.get(at) {
            return self.fraction(start);
        }
        if int_digits > 15 {
            return None;
        }
        // Below 10^15, so exact as an i64, whose conversion is one instruction.
        let n = value as i64 as f64;
        // Negated as a double, as serde does: `-0` is -0.0.
        Some(if negative { -n } else { n })
    }

    /// The rest of a number that has a fraction or an exponent (the reader
    /// is at its `.`, `e` or `E`), read with the standard library's
    /// correctly rounded reading from `start`.
    #[inline(never)]
    fn fraction(&mut self, start: usize) -> Option<f64> {
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
        }
        let n: f64 = self.text.get(start..self.at)?.parse().ok()?;
        n.is_finite().then_some(n)
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the serde path gives (or `None` where it refuses).
    fn serde(text: &str) -> Option<Request<'_>> {
        serde_json::from_str(text).ok()
    }

    #[track_caller]
    fn same(text: &str) {
        let quick = read(text);
        let slow = serde(text);
        if let Some(q) = &quick {
            assert_eq!(Some(q), slow.as_ref(), "{text}");
            // Bit for bit: -0.0 and 0.0 compare equal.
            assert_eq!(
                format!("{:?}", Some(q)),
                format!("{:?}", slow.as_ref()),
                "{text}"
            );
        }
        assert_eq!(
            Request::from_json(text).ok(),
            slow,
            "from_json differs from serde on {text}"
        );
    }

    #[test]
    fn typical_requests_are_read_quickly_and_as_serde_reads_them() {
        for text in [
            r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":91,"category":"phishing","sender":{"region":"eu","domain":"x.com"}}}"#,
            r#" { "agent" : "a.b" , "action" : "x" , "context" : { "n" : -12.5e-3 , "l" : [1, 2.0, "s", true, false, null, [], {}] } } "#,
            r#"{"action":"x","agent":"a.b","timestamp":"2026-11-23T15:04:05Z","request_id":"r-1","subject":"u-9","context":{}}"#,
            r#"{"agent":"a.b","action":"x","timestamp":null,"request_id":null,"subject":null}"#,
            r#"{"agent":"a.b","action":"x","context":{"big":123456789012345,"neg":-0,"f":0.1,"e":1E2,"z":0}}"#,
        ] {
            assert!(read(text).is_some(), "not read quickly: {text}");
            same(text);
        }
    }

    /// The three usual keys are matched as literal bytes; every other way
    /// of writing them (spaces, escapes, a longer key that starts the same,
    /// a second copy, another order) reads as serde reads it.
    #[test]
    fn the_usual_keys_read_however_they_are_written() {
        for text in [
            r#"{"agent" : "a.b", "action" :"x", "context" : {"n": 1}}"#,
            r#"{"context":{"n":1},"action":"x","agent":"a.b"}"#,
            r#"{"\u0061gent":"a.b","action":"x"}"#,
            r#"{"agent":"a.b","act\u0069on":"x","cont\u0065xt":{}}"#,
            r#"{"agents":"a.b","action":"x"}"#,
            r#"{"agent":"a.b","actions":"x"}"#,
            r#"{"agent":"a.b","action":"x","contexts":{}}"#,
            r#"{"agent":"a.b","action":"x","action":"y"}"#,
            r#"{"agent":"a.b","action":"x","context":{},"context":{}}"#,
            r#"{"agent":"a.b","action":"x","context":5}"#,
            r#"{"agent":"#,
            r#"{"action":"#,
            r#"{"context":"#,
        ] {
            same(text);
        }
        for text in [
            r#"{"agent" : "a.b", "action" :"x", "context" : {"n": 1}}"#,
            r#"{"context":{"n":1},"action":"x","agent":"a.b"}"#,
        ] {
            assert!(read(text).is_some(), "not read quickly: {text}");
        }
    }

    /// A key given twice is refused, as serde refuses it, whichever key and
    /// however each copy is written (the usual keys have two ways through
    /// the reader: matched as written, or read as a string).
    #[test]
    fn every_key_given_twice_is_refused() {
        let values = [
            ("agent", r#""a.b""#),
            ("action", r#""x""#),
            ("context", r#"{"n":1}"#),
            ("timestamp", r#""2026-01-01T00:00:00Z""#),
            ("request_id", r#""r-1""#),
            ("subject", r#""s""#),
        ];
        for (key, value) in values {
            for (first, second) in [(":", ":"), (" :", " :"), (":", " :"), (" :", ":")] {
                let mut fields: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!(r#""{k}"{first}{v}"#))
                    .collect();
                fields.push(format!(r#""{key}"{second}{value}"#));
                let text = format!("{{{}}}", fields.join(","));
                assert!(read(&text).is_none(), "read quickly: {text}");
                assert!(Request::from_json(&text).is_err(), "accepted: {text}");
                same(&text);
            }
        }
    }

    /// Only space, tab, line feed and carriage return are white space in
    /// JSON: any other control character between tokens is refused.
    #[test]
    fn only_json_white_space_is_skipped() {
        for c in ['\u{0}', '\u{b}', '\u{c}', '\u{1f}'] {
            for text in [
                format!(r#"{{{c}"agent":"a.b","action":"x"}}"#),
                format!(r#"{{"agent"{c}:"a.b","action":"x"}}"#),
                format!(r#"{{"agent":{c}"a.b","action":"x"}}"#),
                format!(r#"{{"agent":"a.b"{c},"action":"x"}}"#),
                format!(r#"{{"agent":"a.b","action":"x","context":{{{c}"n":1}}}}"#),
                format!(r#"{{"agent":"a.b","action":"x","context":{{"n":1{c}}}}}"#),
                format!(r#"{{"agent":"a.b","action":"x"}}{c}"#),
            ] {
                assert!(read(&text).is_none(), "read quickly: {text:?}");
                assert!(Request::from_json(&text).is_err(), "accepted: {text:?}");
            }
        }
        for c in [' ', '\t', '\n', '\r'] {
            let text = format!(
                r#"{c}{{{c}"agent"{c}:{c}"a.b"{c},"action":"x","context":{{{c}"n"{c}:{c}1{c}}}{c}}}{c}"#
            );
            assert!(read(&text).is_some(), "not read quickly: {text:?}");
            same(&text);
        }
    }

    /// Numbers with a fraction or an exponent, at the end of the text or
    /// before another value, read as serde reads them.
    #[test]
    fn numbers_read_as_serde_reads_them() {
        for n in [
            "0",
            "-0",
            "7",
            "-7",
            "10",
            "123456789012345",
            "1234567890123456",
            "0.5",
            "-0.5",
            "1e3",
            "1E+3",
            "1e-3",
            "2.5e2",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1.e2",
            "-01",
            "00",
        ] {
            same(&format!(
                r#"{{"agent":"a.b","action":"x","context":{{"n":{n}}}}}"#
            ));
            same(&format!(
                r#"{{"agent":"a.b","action":"x","context":{{"n":{n},"m":"s"}}}}"#
            ));
            same(&format!(
                r#"{{"agent":"a.b","action":"x","context":{{"l":[{n}]}}}}"#
            ));
        }
    }

    #[test]
    fn anything_unsure_goes_to_serde_with_the_same_answer() {
        for text in [
            // Escapes, long integers, non-finite, wide and deep objects.
            r#"{"agent":"a.b","action":"x","context":{"s":"a\"b"}}"#,
            r#"{"agent":"a\u002eb","action":"x"}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":12345678901234567}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":1e999}}"#,
            r#"{"agent":"a.b","action":"x","context":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17}}"#,
            // Refused by both.
            r#"{"agent":"a.b","action":"x","context":{"k":1,"k":2}}"#,
            r#"{"agent":"a.b","agent":"c.d","action":"x"}"#,
            r#"{"agent":"a.b","action":"x","extra":1}"#,
            r#"{"agent":"a.b"}"#,
            r#"{"agent":1,"action":"x"}"#,
            r#"{"agent":"a.b","action":"x","context":[]}"#,
            r#"{"agent":"a.b","action":"x","context":null}"#,
            r#"{"agent":"a.b","action":"x","timestamp":"yesterday"}"#,
            r#"{"agent":"a.b","action":"x"} x"#,
            r#"{"agent":"a.b","action":"x",}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":01}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":1.}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":.5}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":+1}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":-}}"#,
            r#"{"agent":"a.b","action":"x","context":{"n":1e}}"#,
            r#"{"agent":"a.b","action":"x","context":{"s":"tab	in"}}"#,
            r#"{"agent":"a.b","action":"x","context":{"t":tru}}"#,
            r#"[{"agent":"a.b","action":"x"}]"#,
            "",
            "{",
        ] {
            same(text);
        }
        let deep = format!(
            r#"{{"agent":"a.b","action":"x","context":{{"d":{}1{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(read(&deep).is_none());
        same(&deep);
        // Objects in objects count their depth too (a context's values are
        // read in its object loop): past the limit the quick reader stops,
        // and serde reads 100 levels and refuses 200.
        for levels in [100, 200] {
            let deep = format!(
                r#"{{"agent":"a.b","action":"x","context":{{"d":{}1{}}}}}"#,
                r#"{"d":"#.repeat(levels),
                "}".repeat(levels)
            );
            assert!(read(&deep).is_none(), "{levels} levels");
            same(&deep);
        }
    }

    fn scalar() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::json;
        prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            (-1_000_000i64..1_000_000).prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[ -~]{0,8}".prop_map(|s| json!(s)),
            any::<String>().prop_map(|s| json!(s)),
            any::<bool>().prop_map(|b| json!(b)),
            Just(serde_json::Value::Null),
        ]
    }

    fn context() -> impl Strategy<Value = serde_json::Value> {
        scalar().prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..20)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Generated requests, written compactly or spaced out, and then
        /// damaged (a byte dropped, or replaced by a JSON token character):
        /// the quick reader answers as serde does, or leaves it to serde.
        #[test]
        fn quick_reading_matches_serde(
            context in context(),
            agent in "[a-z]{1,4}\\.[a-z]{1,4}",
            timestamp in prop::option::of(Just("2026-11-23T15:04:05Z")),
            pretty in any::<bool>(),
            damage in prop::option::of((any::<prop::sample::Index>(), prop::sample::select(
                vec![None, Some('"'), Some('\\'), Some(','), Some(':'), Some('}'), Some(']'), Some('-'), Some('e'), Some('0'), Some(' ')])
            )),
        ) {
            let mut request = serde_json::json!({"agent": agent, "action": "x", "context": context});
            if let Some(t) = timestamp {
                request["timestamp"] = t.into();
            }
            let mut text = if pretty {
                serde_json::to_string_pretty(&request).unwrap_or_default()
            } else {
                request.to_string()
            };
            if let Some((at, with)) = damage {
                let i = at.index(text.len().max(1));
                if text.is_char_boundary(i) && text.is_char_boundary(i + 1) {
                    text.replace_range(i..i + 1, &with.map(String::from).unwrap_or_default());
                }
            }
            same(&text);
        }
    }

    proptest! {
        /// The word-at-a-time scan finds what a byte-by-byte one does.
        #[test]
        fn string_end_is_the_first_special_byte(
            bytes in prop::collection::vec(prop_oneof![
                Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff, Just(b'a'), Just(0x1f), Just(0x21),
            ], 0..40)
        ) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(string_end(&bytes), naive);
        }
    }

    #[test]
    fn every_cut_of_a_request_answers_as_serde_does() {
        let text = r#"{"agent":"inbox.triage","action":"quarantine","timestamp":"2026-11-23T15:04:05+01:00","context":{"risk_score":91.5,"tags":["a",-3,null],"sender":{"vip":true}}}"#;
        for end in 0..=text.len() {
            if let Some(cut) = text.get(..end) {
                same(cut);
            }
        }
    }
}
