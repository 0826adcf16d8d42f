//! Request values and requests.
//!
//! Requests are decoded straight into [`Request`] (borrowing strings from the
//! input where it can), never into a generic JSON value first: on the hot path
//! decoding costs more than deciding.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::doc::{Node, NodeValue};

/// A JSON value that borrows its strings from the input where it can.
/// Numbers are doubles: equality is numeric (`1 == 1.0`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Entries in input order; keys are unique (decoding refuses duplicates).
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The type name messages print.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "list",
            Value::Object(_) => "object",
        }
    }

    /// The value under `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Copies every borrowed string so the value outlives its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// Converts a `serde_json` value.
    pub fn from_json(j: &serde_json::Value) -> Value<'static> {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            J::String(s) => Value::String(Cow::Owned(s.clone())),
            J::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            J::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts a document node (bundle operands) into a value.
    pub fn from_node(node: &Node) -> Value<'static> {
        match &node.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::Number(*i as f64),
            NodeValue::Float(f) => Value::Number(*f),
            NodeValue::String(s) => Value::String(Cow::Owned(s.clone())),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Value::from_node).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (Cow::Owned(k.name.clone()), Value::from_node(v)))
                    .collect(),
            ),
        }
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
                    s.serialize_i64(*n as i64)
                } else {
                    s.serialize_f64(*n)
                }
            }
            Value::String(v) => s.serialize_str(v),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

/// A string that borrows from the input when the input allows it.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor(Place::Root))
    }
}

/// Reads the value of the request field `name` (`context`): an error inside
/// it names where (`context.amount`, `context.items[2]`).
pub(crate) fn deserialize_field<'de, D: Deserializer<'de>>(
    d: D,
    name: &'static str,
) -> Result<Value<'de>, D::Error> {
    d.deserialize_any(ValueVisitor(Place::Key(&Place::Root, name)))
}

/// Where a value sits, for messages; built on the stack as the reader
/// descends, written out only when something is wrong.
#[derive(Clone, Copy)]
enum Place<'p> {
    Root,
    Key(&'p Place<'p>, &'p str),
    Index(&'p Place<'p>, usize),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Root => Ok(()),
            Place::Key(Place::Root, key) => f.write_str(key),
            Place::Key(parent, key) => write!(f, "{parent}.{key}"),
            Place::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl Place<'_> {
    /// An integer as a double, refused (as bundles refuse it) when past
    /// ±2^53 and not exactly a double: it would be silently rounded, and
    /// `9007199254740993` would equal `9007199254740992`.
    fn integer<E: de::Error>(&self, v: i128) -> Result<Value<'static>, E> {
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let n = v as f64;
        #[allow(clippy::cast_possible_truncation)]
        let exact = n as i128 == v;
        if v.abs() <= i128::from(crate::doc::MAX_SAFE_INTEGER) || exact {
            return Ok(Value::Number(n));
        }
        let at = match self {
            Place::Root => String::new(),
            place => format!("`{place}`: "),
        };
        Err(E::custom(format_args!(
            "{at}integer `{v}` is outside ±2^53 and would be rounded to {n}; \
             send a smaller number, or the value as a string"
        )))
    }
}

struct ValueVisitor<'p>(Place<'p>);

impl<'de> de::DeserializeSeed<'de> for ValueVisitor<'_> {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// Objects wider than this look keys up by hash to find duplicates.
const WIDE_OBJECT: usize = 16;

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.integer(i128::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.integer(i128::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_finite() {
            Ok(Value::Number(v))
        } else {
            Err(E::custom("numbers must be finite"))
        }
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) =
            seq.next_element_seed(ValueVisitor(Place::Index(&self.0, items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Value<'de>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        // Duplicates: a scan while the object is small, then a set of the
        // keys (a scan of each key against all before it would make one
        // wide object cost quadratic time: 600,000 keys fit in a batch).
        let mut seen: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        while let Some(CowStr(key)) = map.next_key()? {
            let duplicate = match &mut seen {
                None => entries.iter().any(|(k, _)| *k == key),
                Some(keys) => !keys.insert(key.clone()),
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            if seen.is_none() && entries.len() >= WIDE_OBJECT {
                seen = Some(
                    entries
                        .iter()
                        .map(|(k, _)| k.clone())
                        .chain(std::iter::once(key.clone()))
                        .collect(),
                );
            }
            let value = map.next_value_seed(ValueVisitor(Place::Key(&self.0, &key)))?;
            entries.push((key, value));
        }
        Ok(Value::Object(entries))
    }
}

/// A request for a decision: `{agent, action, context, timestamp?,
/// request_id?, subject?}`. Unknown top-level fields are refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    remote = "Self",
    deny_unknown_fields,
    expecting = "a request: an object `{agent, action, context, timestamp?, request_id?, subject?}`"
)]
pub struct Request<'a> {
    #[serde(borrow, deserialize_with = "agent")]
    pub agent: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "action")]
    pub action: Cow<'a, str>,
    #[serde(borrow, default = "empty_object", deserialize_with = "context_object")]
    pub context: Value<'a>,
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<jiff::Timestamp>,
    #[serde(borrow, default, deserialize_with = "request_id")]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "subject")]
    pub subject: Option<Cow<'a, str>>,
}

/// Only an object is a request: the derived code (reached through `remote =
/// "Self"`) would also take a list of the fields in order.
impl<'de: 'a, 'a> Deserialize<'de> for Request<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<'a>(std::marker::PhantomData<Request<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Object<'a> {
            type Value = Request<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a request: an object `{agent, action, context, timestamp?, request_id?, subject?}`",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Request::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object(std::marker::PhantomData))
    }
}

impl<'a> Request<'a> {
    /// A request with an empty context.
    pub fn new(agent: impl Into<Cow<'a, str>>, action: impl Into<Cow<'a, str>>) -> Self {
        Request {
            agent: agent.into(),
            action: action.into(),
            context: empty_object(),
            timestamp: None,
            request_id: None,
            subject: None,
        }
    }

    pub fn with_context(mut self, context: Value<'a>) -> Self {
        self.context = context;
        self
    }

    pub fn with_timestamp(mut self, timestamp: jiff::Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

fn empty_object<'a>() -> Value<'a> {
    Value::Object(Vec::new())
}

/// A text field of a request; a value of another type is refused naming
/// the field and what it was (`` `agent` must be a string, found a number ``).
struct TextField(&'static str);

impl TextField {
    fn wrong<E: de::Error>(&self, found: fmt::Arguments<'_>) -> E {
        E::custom(format_args!("`{}` must be a string, found {found}", self.0))
    }
}

impl<'de> Visitor<'de> for TextField {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` to be a string", self.0)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(self.wrong(format_args!("a boolean ({v})")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(self.wrong(format_args!("a number ({v})")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(self.wrong(format_args!("a number ({v})")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.wrong(format_args!("a number ({v})")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong(format_args!("null")))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(format_args!("a list")))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(format_args!("an object")))
    }
}

/// An optional text field: absent or `null` is `None`.
struct OptionalText(&'static str);

impl<'de> Visitor<'de> for OptionalText {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` to be a string or null", self.0)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(TextField(self.0)).map(Some)
    }
}

fn agent<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_any(TextField("agent"))
}

fn action<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_any(TextField("action"))
}

fn request_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    d.deserialize_option(OptionalText("request_id"))
}

fn subject<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    d.deserialize_option(OptionalText("subject"))
}

fn context_object<'de, D: Deserializer<'de>>(d: D) -> Result<Value<'de>, D::Error> {
    match deserialize_field(d, "context")? {
        v @ Value::Object(_) => Ok(v),
        other => Err(de::Error::custom(format_args!(
            "`context` must be an object, found {}",
            other.type_name()
        ))),
    }
}

fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::Timestamp>, D::Error> {
    let Some(text) = d.deserialize_option(OptionalText("timestamp"))? else {
        return Ok(None);
    };
    parse_timestamp(&text).map(Some).map_err(de::Error::custom)
}

/// Parses an RFC 3339 timestamp, which must carry an offset (`Z` or `+01:00`).
pub fn parse_timestamp(text: &str) -> Result<jiff::Timestamp, String> {
    text.parse::<jiff::Timestamp>().map_err(|_| {
        format!("`timestamp` `{text}` is not RFC 3339 with an offset, e.g. `2026-11-23T15:04:05Z`")
    })
}

/// `a == b`, with the short strings requests are made of (keys, names,
/// categories) compared in a word load or two instead of a call to
/// `memcmp`.
#[inline(always)]
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two loads that overlap cover every length from one load to two.
    fn ends<const W: usize>(x: &[u8], y: &[u8], n: usize) -> bool {
        let word = |s: &[u8], at: usize| -> Option<[u8; W]> { s.get(at..at + W)?.try_into().ok() };
        word(x, 0) == word(y, 0) && word(x, n - W) == word(y, n - W)
    }
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => ends::<4>(a, b, n),
        9..=16 => ends::<8>(a, b, n),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal exactly when the strings are: every length up to past two
    /// words, a byte changed at every position, and a shorter prefix.
    #[test]
    fn same_text_is_string_equality_at_every_length() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_text(a, &String::from(a)), "{a}");
            if n > 0 {
                assert!(!same_text(a, &base[..n - 1]), "{a}");
            }
            for i in 0..n {
                let mut b = a.as_bytes().to_vec();
                b[i] = b'_';
                let b = String::from_utf8(b).unwrap();
                assert!(!same_text(a, &b), "{a} / {b}");
            }
        }
    }

    /// Regression: each key was compared with every key before it, so one
    /// context of 600,000 keys (an 8 MiB batch holds one) took minutes.
    /// Past the first few, keys are looked up by hash, and a duplicate is
    /// still found wherever its two copies are.
    #[test]
    fn duplicate_keys_are_found_in_contexts_of_any_width() {
        for (width, first, again) in [
            (3, 1, 2),
            (17, 0, 16),
            (40, 5, 39),
            (40, 35, 39),
            (200_000, 7, 199_999),
        ] {
            let keys: Vec<String> = (0..width)
                .map(|i| format!("\"k{}\": {i}", if i == again { first } else { i }))
                .collect();
            let text = format!(
                r#"{{"agent": "a.b", "action": "x", "context": {{{}}}}}"#,
                keys.join(",")
            );
            let e = serde_json::from_str::<Request<'_>>(&text).unwrap_err();
            assert!(
                e.to_string().contains(&format!("duplicate key `k{first}`")),
                "{width}: {e}"
            );
            let unique: Vec<String> = (0..width).map(|i| format!("\"k{i}\": {i}")).collect();
            let text = format!(
                r#"{{"agent": "a.b", "action": "x", "context": {{{}}}}}"#,
                unique.join(",")
            );
            let r = serde_json::from_str::<Request<'_>>(&text).unwrap();
            let Value::Object(entries) = &r.context else {
                panic!()
            };
            assert_eq!(entries.len(), width);
        }
    }

    #[test]
    fn decodes_borrowing_and_refuses_unknown_fields() {
        let text = r#"{"agent":"inbox.triage","action":"quarantine","context":{"a":{"b":[1,"x"]}},"timestamp":"2026-11-23T10:00:00+01:00"}"#;
        let r: Request<'_> = serde_json::from_str(text).unwrap();
        assert!(matches!(r.agent, Cow::Borrowed(_)));
        assert_eq!(
            r.context.get("a").and_then(|a| a.get("b")),
            Some(&Value::Array(vec![
                Value::Number(1.0),
                Value::String("x".into())
            ]))
        );
        assert_eq!(r.timestamp.unwrap().as_second(), 1_795_424_400);

        let e = serde_json::from_str::<Request<'_>>(r#"{"agent":"a.b","action":"x","extra":1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
        let e = serde_json::from_str::<Request<'_>>(
            r#"{"agent":"a.b","action":"x","context":{"k":1,"k":2}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("duplicate key `k`"), "{e}");
        let e = serde_json::from_str::<Request<'_>>(r#"{"agent":"a.b","action":"x","context":[]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("must be an object"), "{e}");
        let e = serde_json::from_str::<Request<'_>>(
            r#"{"agent":"a.b","action":"x","timestamp":"2026-11-23 10:00"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }

    /// Regression: errors leaked serde's words ("expected struct Request",
    /// "invalid type: integer `5`, expected a string") without the field.
    #[test]
    fn request_errors_name_the_field_and_what_was_expected() {
        let err = |text: &str| {
            serde_json::from_str::<Request<'_>>(text)
                .unwrap_err()
                .to_string()
        };
        for (text, want) in [
            (
                r#"{"agent":5,"action":"x"}"#,
                "`agent` must be a string, found a number (5)",
            ),
            (
                r#"{"agent":"a.b","action":true}"#,
                "`action` must be a string, found a boolean (true)",
            ),
            (
                r#"{"agent":"a.b","action":null}"#,
                "`action` must be a string, found null",
            ),
            (
                r#"{"agent":["a"],"action":"x"}"#,
                "`agent` must be a string, found a list",
            ),
            (
                r#"{"agent":"a.b","action":"x","subject":{}}"#,
                "`subject` must be a string, found an object",
            ),
            (
                r#"{"agent":"a.b","action":"x","request_id":7}"#,
                "`request_id` must be a string, found a number (7)",
            ),
            (
                r#"{"agent":"a.b","action":"x","timestamp":1}"#,
                "`timestamp` must be a string, found a number (1)",
            ),
            ("[1, 2]", "expected a request: an object `{agent, action"),
            ("5", "expected a request: an object"),
            (r#"{"action":"x"}"#, "missing field `agent`"),
        ] {
            let e = err(text);
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains("struct Request"), "{text}: {e}");
        }
        // Optional fields may be null or absent.
        let r: Request<'_> = serde_json::from_str(
            r#"{"agent":"a.b","action":"x","subject":null,"request_id":"r1"}"#,
        )
        .unwrap();
        assert_eq!((r.subject, r.request_id.as_deref()), (None, Some("r1")));
    }
}
