//! A small JSON parser that keeps the location of every value and refuses
//! duplicate keys, out-of-range integers and excessive nesting.
//!
//! `serde_json` cannot report where a value sat, and bundle diagnostics need
//! that, so bundles are read here; requests on the hot path use serde.

use crate::doc::{
    Key, KeySet, LineIndex, Location, MAX_DEPTH, MAX_SAFE_INTEGER, MAX_VALUES, Node, NodeValue,
};
use crate::error::Diagnostic;

/// Parses one JSON document.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        lines: LineIndex::new(text),
        values: 0,
    };
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error("unexpected text after the JSON document ends"));
    }
    Ok(node)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    lines: LineIndex<'a>,
    /// Values read so far, against [`MAX_VALUES`].
    values: usize,
}

impl Parser<'_> {
    fn loc(&self) -> Location {
        self.lines.location(self.pos)
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.loc(), message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn found(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("`{c}`"),
            None => "the end of the file".to_string(),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!(
                "nesting deeper than {MAX_DEPTH} levels; flatten the document"
            )));
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.error(format!(
                "the document holds more than {MAX_VALUES} values; split it into several bundles"
            )));
        }
        let loc = self.loc();
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => NodeValue::String(self.string()?),
            Some(b't') => self.literal("true", NodeValue::Bool(true))?,
            Some(b'f') => self.literal("false", NodeValue::Bool(false))?,
            Some(b'n') => self.literal("null", NodeValue::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error(format!("expected a JSON value, found {}", self.found()))),
        };
        Ok(Node::new(value, loc))
    }

    fn literal(&mut self, word: &str, value: NodeValue) -> Result<NodeValue, Diagnostic> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("expected a JSON value, found {}", self.found())))
        }
    }

    fn object(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
        self.pos += 1;
        let mut entries: Vec<(Key, Node)> = Vec::new();
        let mut keys = KeySet::default();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(NodeValue::Map(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error(format!(
                    "expected a string key in double quotes, found {}",
                    self.found()
                )));
            }
            let key = Key {
                location: self.loc(),
                name: self.string()?,
            };
            if let Some(first) = keys.duplicate(&entries, &key) {
                return Err(Diagnostic::at(
                    key.location,
                    format!(
                        "duplicate key `{}` (first at line {}); remove one of them",
                        key.name, first.line
                    ),
                ));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected `:` after a key, found {}", self.found())));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    entries.shrink_to_fit();
                    return Ok(NodeValue::Map(entries));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `}}` in an object, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(NodeValue::Seq(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    items.shrink_to_fit();
                    return Ok(NodeValue::Seq(items));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `]` in a list, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, Diagnostic> {
        let start_loc = self.loc();
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return Err(self.error(
                        "control character inside a string; escape it (`\\n`, `\\t`, `\\u0001`)",
                    ));
                }
                None => {
                    return Err(Diagnostic::at(
                        start_loc,
                        "string is not closed: add the closing `\"`",
                    ));
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Diagnostic> {
        let c = self.peek();
        self.pos += 1;
        let ch = match c {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(self.error("unpaired surrogate in a `\\u` escape"));
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.error("unpaired surrogate in a `\\u` escape"));
                    }
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.error("invalid `\\u` escape"))?
                } else {
                    char::from_u32(hi)
                        .ok_or_else(|| self.error("unpaired surrogate in a `\\u` escape"))?
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error(format!(
                    "unknown escape `\\{}`",
                    self.found().trim_matches('`')
                )));
            }
        };
        out.push(ch);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Diagnostic> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("`\\u` needs four hex digits"))?;
        let v = u32::from_str_radix(digits, 16)
            .map_err(|_| self.error("`\\u` needs four hex digits"))?;
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<NodeValue, Diagnostic> {
        let start = self.pos;
        let loc = self.loc();
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        self.digits();
        let int_len = self.pos - int_start;
        if int_len == 0 {
            return Err(self.error("a number needs digits"));
        }
        if int_len > 1 && self.bytes.get(int_start) == Some(&b'0') {
            return Err(Diagnostic::at(loc, "numbers cannot have leading zeros"));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("a decimal point must be followed by digits"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            is_float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("an exponent must have digits"));
            }
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        number_value(text, is_float).map_err(|m| Diagnostic::at(loc, m))
    }

    fn digits(&mut self) -> usize {
        let s = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - s
    }
}

/// Turns number text into a value, enforcing the ±2^53 integer range and
/// refusing infinities. An integer past ±2^53 is read as a double when it
/// is exactly one, or is written as that double is written (canonical
/// JSON writes the double `1e16` as `10000000000000000`, 2^60 as
/// `1152921504606847000`): it survives the round trip, so a bundle's
/// canonical bytes read back as the bundle.
pub(crate) fn number_value(text: &str, is_float: bool) -> Result<NodeValue, String> {
    if !is_float {
        return match text.parse::<i64>() {
            Ok(i) if i.abs() <= MAX_SAFE_INTEGER => Ok(NodeValue::Int(i)),
            _ => match text.parse::<f64>() {
                #[allow(clippy::cast_possible_truncation)]
                Ok(f)
                    if f.is_finite()
                        && (text.parse::<i128>().is_ok_and(|i| f as i128 == i)
                            || f.to_string() == text) =>
                {
                    Ok(NodeValue::Float(f))
                }
                _ => Err(format!(
                    "integer `{text}` is outside ±2^53; use a smaller number"
                )),
            },
        };
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(NodeValue::Float(f)),
        _ => Err(format!("number `{text}` is out of range")),
    }
}

/// The JSON value of `text` when it is one JSON document that [`parse`]
/// would accept, read in one pass by `serde_json` without locations: the
/// same value `parse(text)?.to_json()` gives. `None` when it is not sure
/// (a syntax error, a duplicate key, an integer outside ±2^53, an integral
/// number past 2^53 however written, nesting or size at the limits): the
/// caller then parses with [`parse`], which says where and why. For
/// batches of small documents (a scorecard a line) where locations matter
/// only for the rare one that is wrong.
pub fn parse_value(text: &str) -> Option<serde_json::Value> {
    use serde::de::DeserializeSeed as _;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut values = 0usize;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict {
        depth: 0,
        values: &mut values,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(value)
}

/// A value as [`parse`] would read it, or an error where it might not.
struct Strict<'v> {
    depth: usize,
    values: &'v mut usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        *self.values += 1;
        if self.depth >= MAX_DEPTH - 1 || *self.values >= MAX_VALUES {
            return Err(serde::de::Error::custom(
                "at the limits: read with locations",
            ));
        }
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom("integer outside ±2^53"));
        }
        Ok(serde_json::Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        if v > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom("integer outside ±2^53"));
        }
        Ok(serde_json::Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // An integer too long for 64 bits arrives here too, and `parse`
        // refuses it; so does `-0`, which `parse` reads as the integer 0.
        // A float written so (`-0.0`, `1e16`) is rare enough to be read
        // with locations.
        #[allow(clippy::cast_precision_loss)]
        let big = v.abs() >= MAX_SAFE_INTEGER as f64;
        let ambiguous = (big && v.fract() == 0.0) || (v == 0.0 && v.is_sign_negative());
        match serde_json::Number::from_f64(v) {
            Some(n) if !ambiguous => Ok(serde_json::Value::Number(n)),
            _ => Err(E::custom("a number to read with locations")),
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(serde_json::Value::String(v.to_owned()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict {
            depth: self.depth + 1,
            values: &mut *self.values,
        })? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict {
                depth: self.depth + 1,
                values: &mut *self.values,
            })?;
            if out.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_value` answers only what `parse` would, with the same value.
    #[test]
    fn the_one_pass_reader_agrees_with_the_located_one() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let wide = format!(
            "{{{}}}",
            (0..40)
                .map(|i| format!("\"k{i}\": {i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let cases = [
            r#"{"a": 1, "b": [true, null, -0, -0.0, 1.5e3, "x\u00e9\ud83d\ude00"], "c": {"d": {}}}"#,
            "\u{feff} {\"a\": 1} ",
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": {"b": 1, "b": 1}}"#,
            "9007199254740992",
            "9007199254740993",
            "-9007199254740993",
            "12345678901234567890",
            "123456789012345678901234567890",
            "1e300",
            "9007199254740993.0",
            "0.1",
            "2.2250738585072011e-308",
            "1e400",
            "[1, 2,]",
            "{\"a\": 1} x",
            "\"\\ud800\"",
            "\"a\u{1}b\"",
            "\"\\u+abc\"",
            "01",
            "",
            " ",
            &deep,
            &wide,
        ];
        for text in cases {
            let located =
                super::parse(text.strip_prefix('\u{feff}').unwrap_or(text)).map(|n| n.to_json());
            // `None`: read with locations, whatever `parse` says holds.
            if let Some(v) = parse_value(text) {
                assert_eq!(Ok(&v), located.as_ref(), "{text}");
            }
        }
        // It does answer the common case.
        let common = r#"{"workflow_id": "wf-\n1\u00e9", "raroi": 1.25, "n": 3, "ok": true, "no": null, "s": {"latency": 0.5}, "l": [[1, "a"], []]}"#;
        assert_eq!(
            parse_value(common),
            super::parse(common).map(|n| n.to_json()).ok()
        );
        assert!(parse_value(common).is_some());
        assert!(parse_value(&wide).is_some());
        assert!(parse_value("9007199254740992").is_some());
        assert!(parse_value(r#"{"a": 1, "a": 2}"#).is_none());
        assert!(parse_value("9007199254740993").is_none());
        assert!(parse_value("12345678901234567890").is_none());
        assert!(parse_value(&deep).is_none());
        // Numbers it reads itself, at the edges of what it reads.
        for n in ["-9007199254740992", "1.5e3", "-1.5", "0.0", "0", "-7"] {
            let located = super::parse(n).map(|n| n.to_json()).ok();
            assert_eq!(parse_value(n), located, "{n}");
            assert!(located.is_some(), "{n}");
        }
        // More values than a document may hold: refused by `parse`, so
        // never answered here.
        let many = format!("[{}0]", "0,".repeat(MAX_VALUES));
        assert!(super::parse(&many).is_err());
        assert!(parse_value(&many).is_none());
    }

    /// Regression (found by the `envelope` fuzz target): canonical JSON
    /// writes the double 1e16 as `10000000000000000`, and this reader
    /// refused that integer, so a bundle holding `1e16` did not read back
    /// from its own canonical bytes (an agent refused the version). An
    /// integer past ±2^53 that is exactly a double, or is written as its
    /// double is written, is that double; any other is still refused.
    #[test]
    fn integers_past_two_to_the_53_that_are_doubles_read_as_doubles() {
        for (text, want) in [
            ("10000000000000000", 1e16),
            ("-10000000000000000", -1e16),
            ("1152921504606847000", 1_152_921_504_606_846_976.0),
            ("1152921504606846976", 1_152_921_504_606_846_976.0),
            ("9007199254740994", 9_007_199_254_740_994.0),
        ] {
            assert_eq!(parse(text).map(|n| n.value), Ok(NodeValue::Float(want)));
        }
        for text in ["9007199254740993", "-9007199254740993", "99999999999999999"] {
            assert!(err(text).message.contains("2^53"), "{text}");
        }
    }

    fn err(text: &str) -> Diagnostic {
        match parse(text) {
            Ok(n) => panic!("expected an error for {text:?}, got {n:?}"),
            Err(e) => e,
        }
    }

    /// Regression: every key was compared with every earlier one, so one
    /// object of 100,000 keys (1 MB) took seconds and 16 MiB of keys hours.
    /// Past the first few keys they are looked up in an index, which must
    /// find a duplicate wherever the two copies are.
    #[test]
    fn duplicate_keys_are_found_in_objects_of_any_width() {
        for (width, first, again) in [(3, 1, 2), (40, 5, 39), (40, 35, 39), (5000, 4000, 4999)] {
            let keys: Vec<String> = (0..width)
                .map(|i| {
                    let name = if i == again { first } else { i };
                    format!("\n\"k{name}\": {i}")
                })
                .collect();
            let text = format!("{{{}\n}}", keys.join(","));
            let e = err(&text);
            assert_eq!(
                (e.message.as_str(), e.line),
                (
                    format!(
                        "duplicate key `k{first}` (first at line {}); remove one of them",
                        first + 2
                    )
                    .as_str(),
                    Some(u32::try_from(again).unwrap() + 2)
                ),
                "{width} keys"
            );
        }
        let wide: Vec<String> = (0..5000).map(|i| format!("\"k{i}\": {i}")).collect();
        let doc = parse(&format!("{{{}}}", wide.join(","))).unwrap();
        assert_eq!(doc.as_map().unwrap().len(), 5000);
    }

    #[test]
    fn values_keep_locations() {
        let doc = parse("{\n  \"a\": [1, 2.5, \"x\"],\n  \"b\": null\n}").unwrap();
        let a = doc.get("a").unwrap();
        assert_eq!(a.location, Location { line: 2, column: 8 });
        let items = a.as_seq().unwrap();
        assert_eq!(items[0].value, NodeValue::Int(1));
        assert_eq!(items[1].value, NodeValue::Float(2.5));
        assert_eq!(
            items[2].location,
            Location {
                line: 2,
                column: 17
            }
        );
        assert_eq!(doc.get_key("b").unwrap().location.line, 3);
    }

    #[test]
    fn escapes_and_surrogates() {
        let doc = parse(r#""a\n\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(doc.as_str(), Some("a\né😀"));
        assert!(err(r#""\ud83d""#).message.contains("surrogate"));
    }

    #[test]
    fn refuses_bad_input_with_locations() {
        let e = err("{\"a\": 1, \"a\": 2}");
        assert!(e.message.contains("duplicate key `a`"), "{e}");
        assert_eq!(e.column, Some(10));
        let e = err("{\"a\": 1,\n \"b\" 2}");
        assert_eq!((e.line, e.column), (Some(2), Some(6)));
        assert!(err("[1, 2").message.contains("expected `,` or `]`"));
        assert!(err("9007199254740993").message.contains("2^53"));
        assert!(err("12345678901234567890").message.contains("2^53"));
        assert!(err("1e400").message.contains("out of range"));
        assert!(err("01").message.contains("leading zeros"));
        assert!(err("[1] x").message.contains("after the JSON document"));
        assert!(err("\"abc").message.contains("not closed"));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(err(&deep).message.contains("nesting"));
    }
}
