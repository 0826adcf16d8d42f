//! YAML 1.2 reading into the located document tree.
//!
//! The event parser (`saphyr-parser`) does the syntax; this module resolves
//! scalars by the YAML 1.2 core schema (`yes`/`no` are strings), refuses
//! duplicate keys, several documents, unknown tags and deep nesting, and
//! expands aliases within a budget so that a small file cannot blow up.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::doc::{Key, KeySet, Location, MAX_DEPTH, Node, NodeValue};
use crate::error::Diagnostic;
use crate::json::number_value;

/// The most values a document may hold once aliases are expanded.
pub const MAX_NODES: usize = crate::doc::MAX_VALUES;

/// The largest a document may be once aliases are expanded, counted as the
/// bytes of its text values and keys plus [`NODE_BYTES`] for each value. A
/// document without aliases stays far below it (its text is at most the
/// 16 MiB file limit); aliases can at most double the largest file.
pub const MAX_EXPANDED_BYTES: usize = 64 << 20;

/// What each value counts toward [`MAX_EXPANDED_BYTES`] besides its text.
const NODE_BYTES: usize = 16;

/// The size of a (sub)document once expanded: values, and bytes as
/// [`MAX_EXPANDED_BYTES`] counts them.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    values: usize,
    bytes: usize,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            values: self.values.saturating_add(other.values),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

/// Parses one YAML document. `Ok(None)` when the stream holds no document.
pub fn parse(text: &str) -> Result<Option<Node>, Diagnostic> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            Diagnostic::at(
                Location {
                    line: to_u32(m.line()),
                    column: to_u32(m.col() + 1),
                },
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn location(span: &Span) -> Location {
    Location {
        line: to_u32(span.start.line()),
        column: to_u32(span.start.col() + 1),
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        location: Location,
        anchor: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        keys: KeySet,
        key: Option<Key>,
        location: Location,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    anchors: HashMap<usize, (Node, Size)>,
    size: Size,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let loc = location(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::at(
                        loc,
                        "the file holds more than one YAML document; keep one bundle per file",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let value = scalar(&text, style, tag.as_deref(), loc)?;
                // A key is kept as written; only values are resolved.
                if let Some(Frame::Map { key: k @ None, .. }) = self.stack.last_mut() {
                    self.size.bytes = self.size.bytes.saturating_add(text.len());
                    *k = Some(Key {
                        name: text.into_owned(),
                        location: loc,
                    });
                    return Ok(());
                }
                let size = Size {
                    values: 1,
                    bytes: NODE_BYTES + text.len(),
                };
                self.finish(Node::new(value, loc), anchor, size)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_tag(
                    tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    "!!seq",
                    loc,
                )?;
                self.open(
                    Frame::Seq {
                        items: Vec::new(),
                        location: loc,
                        anchor,
                    },
                    loc,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                self.check_tag(
                    tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    "!!map",
                    loc,
                )?;
                self.open(
                    Frame::Map {
                        entries: Vec::new(),
                        keys: KeySet::default(),
                        key: None,
                        location: loc,
                        anchor,
                    },
                    loc,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        location,
                        anchor,
                    }) => (Node::new(NodeValue::Seq(shrunk(items)), location), anchor),
                    Some(Frame::Map {
                        entries,
                        location,
                        anchor,
                        ..
                    }) => (Node::new(NodeValue::Map(shrunk(entries)), location), anchor),
                    None => return Err(Diagnostic::at(loc, "invalid YAML: unbalanced collection")),
                };
                let size = Size {
                    values: 1,
                    bytes: NODE_BYTES,
                };
                self.finish(node, anchor, size)?;
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Diagnostic::at(loc, "alias refers to an unknown anchor"))?;
                let mut node = node;
                relocate(&mut node, loc);
                self.finish(node, 0, size)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn check_tag(
        &self,
        tag: Option<String>,
        allowed: &str,
        loc: Location,
    ) -> Result<(), Diagnostic> {
        match tag {
            None => Ok(()),
            Some(t) if t == allowed || t == format!("tag:yaml.org,2002:{}", &allowed[2..]) => {
                Ok(())
            }
            Some(t) => Err(Diagnostic::at(
                loc,
                format!("unsupported YAML tag `{t}`; remove it"),
            )),
        }
    }

    fn open(&mut self, frame: Frame, loc: Location) -> Result<(), Diagnostic> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(Diagnostic::at(
                loc,
                "a list or mapping cannot be used as a mapping key; keys must be plain text",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::at(
                loc,
                format!("nesting deeper than {MAX_DEPTH} levels; flatten the document"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a completed node into its parent (or makes it the root).
    fn finish(&mut self, node: Node, anchor: usize, size: Size) -> Result<(), Diagnostic> {
        self.size = self.size.add(size);
        if self.size.values > MAX_NODES {
            return Err(Diagnostic::at(
                node.location,
                format!(
                    "the document expands to more than {MAX_NODES} values (aliases); simplify it"
                ),
            ));
        }
        if self.size.bytes > MAX_EXPANDED_BYTES {
            return Err(Diagnostic::at(
                node.location,
                format!(
                    "the document expands to more than {} MiB once its aliases are expanded; \
                     write the repeated values once, or fewer times",
                    MAX_EXPANDED_BYTES >> 20
                ),
            ));
        }
        if anchor != 0 {
            let size = measure(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, keys, key, ..
            }) => {
                let Some(key) = key.take() else {
                    return Err(Diagnostic::at(
                        node.location,
                        "an alias cannot be used as a mapping key",
                    ));
                };
                if let Some(first) = keys.duplicate(entries, &key) {
                    return Err(Diagnostic::at(
                        key.location,
                        format!(
                            "duplicate key `{}` (first at line {}); remove one of them",
                            key.name, first.line
                        ),
                    ));
                }
                entries.push((key, node));
            }
        }
        Ok(())
    }
}

/// A finished collection without the spare room its growth left (a
/// document of many small mappings would otherwise hold several times its
/// size).
fn shrunk<T>(mut items: Vec<T>) -> Vec<T> {
    items.shrink_to_fit();
    items
}

/// What an anchored node adds each time an alias repeats it.
fn measure(node: &Node) -> Size {
    let own = Size {
        values: 1,
        bytes: NODE_BYTES,
    };
    match &node.value {
        NodeValue::Seq(items) => items.iter().map(measure).fold(own, Size::add),
        NodeValue::Map(entries) => entries.iter().fold(own, |acc, (k, v)| {
            acc.add(measure(v)).add(Size {
                values: 0,
                bytes: k.name.len(),
            })
        }),
        NodeValue::String(text) => own.add(Size {
            values: 0,
            bytes: text.len(),
        }),
        _ => own,
    }
}

/// An alias's copy is reported where the alias is written.
fn relocate(node: &mut Node, loc: Location) {
    node.location = loc;
}

/// Resolves a scalar by the YAML 1.2 core schema.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    loc: Location,
) -> Result<NodeValue, Diagnostic> {
    let tag = tag.map(|t| {
        t.strip_prefix("tag:yaml.org,2002:")
            .map_or(t.to_string(), |s| format!("!!{s}"))
    });
    match tag.as_deref() {
        Some("!!str") => return Ok(NodeValue::String(text.to_string())),
        Some("!!int" | "!!float" | "!!bool" | "!!null") | None => {}
        Some(t) => {
            return Err(Diagnostic::at(
                loc,
                format!("unsupported YAML tag `{t}`; remove it"),
            ));
        }
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Ok(NodeValue::String(text.to_string()));
    }
    let resolved = resolve_plain(text).map_err(|m| Diagnostic::at(loc, m))?;
    match (tag.as_deref(), &resolved) {
        (None, _)
        | (Some("!!int"), NodeValue::Int(_))
        | (Some("!!float"), NodeValue::Float(_) | NodeValue::Int(_))
        | (Some("!!bool"), NodeValue::Bool(_))
        | (Some("!!null"), NodeValue::Null) => Ok(match (tag.as_deref(), resolved) {
            (Some("!!float"), NodeValue::Int(i)) => NodeValue::Float(i as f64),
            (_, v) => v,
        }),
        (Some(t), _) => Err(Diagnostic::at(
            loc,
            format!("`{text}` is not a valid `{t}`"),
        )),
    }
}

fn resolve_plain(text: &str) -> Result<NodeValue, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(NodeValue::Null),
        "true" | "True" | "TRUE" => return Ok(NodeValue::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(NodeValue::Bool(false)),
        ".nan" | ".NaN" | ".NAN" => return Err(format!("`{text}` (not a number) is not allowed")),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Err(format!("`{text}` (infinity) is not allowed"));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return radix(text, hex, 16);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return radix(text, oct, 8);
        }
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return number_value(text.strip_prefix('+').unwrap_or(text), false);
    }
    if is_core_float(unsigned) {
        return number_value(text, true);
    }
    Ok(NodeValue::String(text.to_string()))
}

fn radix(text: &str, digits: &str, radix: u32) -> Result<NodeValue, String> {
    let v = i64::from_str_radix(digits, radix)
        .map_err(|_| format!("integer `{text}` is outside ±2^53"))?;
    number_value(&v.to_string(), false)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let exp = b
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        parse(text).unwrap().unwrap()
    }

    fn err(text: &str) -> Diagnostic {
        match parse(text) {
            Ok(n) => panic!("expected an error for {text:?}, got {n:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn core_schema_resolution() {
        let d = doc(
            "a: yes\nb: true\nc: 12\nd: 1.5\ne: ~\nf: '12'\ng: 1.4.0\nh: 0x1f\ni: -3\nj: 1e3\nk: .5\n",
        );
        let v = |k: &str| d.get(k).unwrap().value.clone();
        assert_eq!(v("a"), NodeValue::String("yes".into()));
        assert_eq!(v("b"), NodeValue::Bool(true));
        assert_eq!(v("c"), NodeValue::Int(12));
        assert_eq!(v("d"), NodeValue::Float(1.5));
        assert_eq!(v("e"), NodeValue::Null);
        assert_eq!(v("f"), NodeValue::String("12".into()));
        assert_eq!(v("g"), NodeValue::String("1.4.0".into()));
        assert_eq!(v("h"), NodeValue::Int(31));
        assert_eq!(v("i"), NodeValue::Int(-3));
        assert_eq!(v("j"), NodeValue::Float(1000.0));
        assert_eq!(v("k"), NodeValue::Float(0.5));
    }

    #[test]
    fn locations_are_one_based() {
        let d = doc("rules:\n  - id: abc\n    agent: x.y\n");
        let rule = &d.get("rules").unwrap().as_seq().unwrap()[0];
        assert_eq!(rule.location, Location { line: 2, column: 5 });
        assert_eq!(
            rule.get("agent").unwrap().location,
            Location {
                line: 3,
                column: 12
            }
        );
        assert_eq!(
            rule.get_key("agent").unwrap().location,
            Location { line: 3, column: 5 }
        );
    }

    /// Regression: a mapping's keys were each compared with every earlier
    /// one (n² for a wide mapping); past the first few they are indexed,
    /// and a duplicate is still found wherever it is.
    #[test]
    fn duplicate_keys_are_found_in_mappings_of_any_width() {
        for (width, first, again) in [(40, 5, 39), (40, 35, 39), (3000, 2000, 2999)] {
            let text: String = (0..width)
                .map(|i| format!("k{}: {i}\n", if i == again { first } else { i }))
                .collect();
            let e = err(&text);
            assert!(
                e.message.contains(&format!(
                    "duplicate key `k{first}` (first at line {})",
                    first + 1
                )),
                "{width}: {e}"
            );
            assert_eq!(e.line, Some(u32::try_from(again).unwrap() + 1), "{width}");
        }
    }

    #[test]
    fn refuses_duplicates_tags_and_multiple_documents() {
        let e = err("a: 1\nb: 2\na: 3\n");
        assert!(
            e.message.contains("duplicate key `a` (first at line 1)"),
            "{e}"
        );
        assert_eq!(e.line, Some(3));
        assert!(
            err("a: !custom 1\n")
                .message
                .contains("unsupported YAML tag")
        );
        assert!(
            err("a: 1\n---\nb: 2\n")
                .message
                .contains("more than one YAML document")
        );
        assert!(err("a: .nan\n").message.contains("not a number"));
        assert!(err("a: 99999999999999999\n").message.contains("2^53"));
        assert!(err("a: [1, 2\n").message.starts_with("invalid YAML"));
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        let d = doc("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(
            d.get("copy").unwrap().get("x").unwrap().value,
            NodeValue::Int(1)
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(err(&bomb).message.contains("expands to more than"));
    }

    /// Regression: the budget counted values, not bytes, so one 1 MB string
    /// anchored once and repeated 2,000 times took 4.1 GB.
    #[test]
    fn aliases_of_a_long_string_are_bounded_by_bytes() {
        let mut text = format!("big: &s \"{}\"\nrepeats:\n", "x".repeat(1 << 20));
        for _ in 0..2_000 {
            text.push_str("  - *s\n");
        }
        let e = err(&text);
        assert!(
            e.message.contains("64 MiB once its aliases are expanded"),
            "{e}"
        );
        // Within the budget, repeats are fine: 60 copies of 1 MiB.
        let mut ok = format!("big: &s \"{}\"\nrepeats:\n", "x".repeat(1 << 20));
        for _ in 0..60 {
            ok.push_str("  - *s\n");
        }
        assert_eq!(
            doc(&ok).get("repeats").and_then(|r| match &r.value {
                NodeValue::Seq(items) => Some(items.len()),
                _ => None,
            }),
            Some(60)
        );
        // Keys count too: a mapping with long keys, anchored and repeated.
        let mut keys = String::from("m: &m {");
        for i in 0..16 {
            keys.push_str(&format!("k{i}{}: 1, ", "y".repeat(1 << 16)));
        }
        keys.push_str("}\nr: [");
        keys.push_str(&"*m, ".repeat(100));
        keys.push_str("]\n");
        assert!(err(&keys).message.contains("aliases are expanded"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = err(&deep);
        assert!(
            e.message.contains("nesting") || e.message.contains("invalid YAML"),
            "{e}"
        );
        let mut block = String::new();
        for i in 0..200 {
            block.push_str(&" ".repeat(i));
            block.push_str("a:\n");
        }
        assert!(err(&block).message.contains("nesting"));
    }

    #[test]
    fn empty_stream_is_none() {
        assert!(parse("# only a comment\n").unwrap().is_none());
    }
}
