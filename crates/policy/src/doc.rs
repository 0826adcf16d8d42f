//! The parsed document: a JSON-data-model tree where every value keeps the
//! line and column it was written at.
//!
//! YAML and JSON both parse into [`Node`]; validation, the linter and digests
//! work on this tree so that every message can point at the source.

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value of the JSON data model with its source location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub location: Location,
}

/// The kinds of value a document holds. Integers and floats stay apart so
/// that digests and legacy signatures can reproduce the text's number forms.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are unique (the parsers refuse duplicates).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own location.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub location: Location,
}

/// The largest integer magnitude accepted (2^53), so every number survives a
/// round trip through an IEEE double.
pub const MAX_SAFE_INTEGER: i64 = 1 << 53;

/// How deeply collections may nest before a document is refused.
pub const MAX_DEPTH: usize = 128;

impl Node {
    pub fn new(value: NodeValue, location: Location) -> Self {
        Node { value, location }
    }

    /// The name of this value's type, as messages print it.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "boolean",
            NodeValue::Int(_) | NodeValue::Float(_) => "number",
            NodeValue::String(_) => "string",
            NodeValue::Seq(_) => "list",
            NodeValue::Map(_) => "object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The key entry (with its location) under `key` when this node is a mapping.
    pub fn get_key(&self, key: &str) -> Option<&Key> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }

    /// Follows an RFC 6901 JSON pointer (`/rules/0/priority`).
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                NodeValue::Map(_) => node.get(&token)?,
                NodeValue::Seq(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The location of the value at `pointer`, or of the nearest ancestor that
    /// exists (a missing field is reported where its parent is).
    pub fn locate(&self, pointer: &str) -> Location {
        let mut node = self;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                NodeValue::Map(_) => node.get(&token),
                NodeValue::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.location
    }

    /// Converts to `serde_json::Value` (the JSON data model, for schema
    /// validation and canonical forms). Integers stay integers.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Node {
    /// Whether two values are the same JSON, wherever they were written:
    /// numbers compare numerically (`1 == 1.0`), object keys in any order.
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (NodeValue::Null, NodeValue::Null) => true,
            (NodeValue::Bool(a), NodeValue::Bool(b)) => a == b,
            (NodeValue::String(a), NodeValue::String(b)) => a == b,
            (NodeValue::Seq(a), NodeValue::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (NodeValue::Map(a), NodeValue::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(&k.name).is_some_and(|w| v.same_value(w)))
            }
            _ => match (self.as_f64(), other.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }
}

/// The keys of a mapping being read, so that a duplicate is refused: a scan
/// while the mapping is small, a sorted index once it is not, so that an
/// object of a million keys (16 MiB) costs n log n comparisons, not n².
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    index: Option<std::collections::BTreeMap<String, Location>>,
}

/// Mappings up to this many keys are scanned.
const KEY_SCAN: usize = 32;

impl KeySet {
    /// Where a key named like `key` first appears among `entries` (the
    /// mapping's keys so far, which `key` is about to join), if it does;
    /// otherwise `key` is recorded.
    pub(crate) fn duplicate(&mut self, entries: &[(Key, Node)], key: &Key) -> Option<Location> {
        if self.index.is_none() && entries.len() >= KEY_SCAN {
            self.index = Some(
                entries
                    .iter()
                    .map(|(k, _)| (k.name.clone(), k.location))
                    .collect(),
            );
        }
        match &mut self.index {
            None => entries
                .iter()
                .find(|(k, _)| k.name == key.name)
                .map(|(k, _)| k.location),
            Some(index) => match index.get(&key.name) {
                Some(first) => Some(*first),
                None => {
                    index.insert(key.name.clone(), key.location);
                    None
                }
            },
        }
    }
}

/// Escapes one reference token of a JSON pointer.
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Maps byte offsets of a text to 1-based lines and character columns.
/// Parsers ask in increasing order, so the last answer is kept and the next
/// one counts characters from there: linear over a whole file, even when
/// the file is one long line.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last offset asked for, its line and its 0-based column.
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text,
            starts,
            last: std::cell::Cell::new((0, 1, 0)),
        }
    }

    pub(crate) fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let (last_offset, last_line, last_col) = self.last.get();
        let column = if last_line == line && last_offset <= offset && last_offset >= start {
            last_col
                + self
                    .text
                    .get(last_offset..offset)
                    .map_or(0, |s| s.chars().count())
        } else {
            self.text
                .get(start..offset)
                .map_or(0, |s| s.chars().count())
        };
        self.last.set((offset, line, column));
        Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters_not_bytes() {
        let idx = LineIndex::new("ab\né: x\n");
        assert_eq!(idx.location(0), Location { line: 1, column: 1 });
        assert_eq!(idx.location(3), Location { line: 2, column: 1 });
        // `:` sits after a two-byte `é`.
        assert_eq!(idx.location(5), Location { line: 2, column: 2 });
    }
}
