//! Parsing as the editor types: most keystrokes change one rule, so the
//! last parse is kept and only the rule that changed is parsed again, its
//! lines placed where they are and the lines after it moved by the lines it
//! gained or lost. Whatever this cannot prove safe (a change across rules
//! or outside them, anchors, a JSON document, a rule that no longer parses
//! alone) is a full parse, so the tree is always the one a full parse
//! gives; the tests check exactly that over many random edits.

use gavel_policy::{Format, LoadError, MAX_FILE_BYTES, Node, NodeValue, parse_document};

/// The last document parsed, to parse the next one incrementally.
#[derive(Debug, Default)]
pub struct ParseCache {
    last: Option<(String, Node)>,
    /// How the last parse was made (for tests and measurements).
    pub last_was_incremental: bool,
}

/// The most values a document holds (`gavel_policy`'s own limit).
const MAX_VALUES: usize = 2_000_000;
/// The deepest a spliced rule may nest (the document's limit is 128, and a
/// rule sits two levels below the root).
const MAX_RULE_DEPTH: usize = 120;

impl ParseCache {
    /// Parses `text` (`format` as detected), reusing the last parse where
    /// only one rule changed.
    pub fn parse(&mut self, text: &str, format: Format) -> Result<Node, LoadError> {
        if format == Format::Yaml {
            if let Some((old_text, old)) = &self.last {
                if let Some(node) = reparse(old_text, old, text) {
                    self.last_was_incremental = true;
                    self.last = Some((text.to_string(), node.clone()));
                    return Ok(node);
                }
            }
        }
        self.last_was_incremental = false;
        let parsed = parse_document(text, format);
        self.last = match (&parsed, format) {
            (Ok(node), Format::Yaml) => Some((text.to_string(), node.clone())),
            _ => None,
        };
        parsed
    }
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> u32 {
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

/// The byte offset where 1-based `line` starts (the text's length past it).
fn line_start(text: &str, line: u32) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line as usize - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// The rules list of a document: its items, and the line after its block
/// (the next top-level key's line; `None`: it runs to the end).
fn rules_of(doc: &Node) -> Option<(&[Node], Option<u32>)> {
    match &doc.value {
        NodeValue::Seq(items) => Some((items, None)),
        NodeValue::Map(entries) => {
            let (key, rules) = entries.iter().find(|(k, _)| k.name == "rules")?;
            let NodeValue::Seq(items) = &rules.value else {
                return None;
            };
            let next = entries
                .iter()
                .map(|(k, _)| k.location.line)
                .filter(|l| *l > key.location.line)
                .min();
            Some((items, next))
        }
        _ => None,
    }
}

/// The tree for `new`, from `old`'s tree when the edit lies inside one
/// block-sequence rule; `None` when a full parse is needed.
fn reparse(old_text: &str, old: &Node, new: &str) -> Option<Node> {
    if new.len() as u64 > MAX_FILE_BYTES || old_text == new {
        return (old_text == new).then(|| old.clone());
    }
    // The changed bytes: the common prefix and suffix are untouched.
    let prefix = old_text
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = old_text.len().min(new.len()) - prefix;
    let suffix = old_text
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let (old_end, new_end) = (old_text.len() - suffix, new.len() - suffix);
    let first = line_of(old_text, prefix);
    let last = line_of(old_text, old_end);
    let (items, block_end) = rules_of(old)?;
    // The rule whose lines hold the whole change (from its dash line to
    // the line before the next rule's).
    let k = items.iter().rposition(|i| i.location.line <= first)?;
    let start = items[k].location.line;
    let end = items
        .get(k + 1)
        .map(|n| n.location.line)
        .or(block_end)
        .unwrap_or_else(|| line_of(old_text, old_text.len()) + 1);
    if last >= end || first < start {
        return None;
    }
    // A block item: its dash begins its first line, nothing else before it.
    let dash_line = &old_text[line_start(old_text, start)..];
    let col = items[k].location.column as usize;
    let lead: String = dash_line.chars().take(col.saturating_sub(1)).collect();
    if lead.trim() != "-" {
        return None;
    }
    let old_chunk = &old_text[line_start(old_text, start)..line_start(old_text, end)];
    let gained = new[prefix..new_end].matches('\n').count() as i64
        - old_text[prefix..old_end].matches('\n').count() as i64;
    let new_end_line = (end as i64 + gained) as u32;
    let new_chunk = &new[line_start(new, start)..line_start(new, new_end_line)];
    // Anchors tie one rule to others: parse those documents whole.
    if has_anchor(old_chunk) || has_anchor(new_chunk) {
        return None;
    }
    let parsed = parse_document(new_chunk, Format::Yaml).ok()?;
    let NodeValue::Seq(mut one) = parsed.value else {
        return None;
    };
    if one.len() != 1 {
        return None;
    }
    let mut item = one.pop()?;
    // Still at its old place: the same dash, the same column.
    let new_lead: String = new_chunk.chars().take(col.saturating_sub(1)).collect();
    if new_lead != lead || (item.location.line, item.location.column) != (1, col as u32) {
        return None;
    }
    if depth(&item) > MAX_RULE_DEPTH {
        return None;
    }
    shift(&mut item, start as i64 - 1, 0);
    let mut tree = old.clone();
    shift(&mut tree, gained, end);
    let slot = rules_mut(&mut tree)?.get_mut(k)?;
    *slot = item;
    (count(&tree) <= MAX_VALUES).then_some(tree)
}

fn rules_mut(doc: &mut Node) -> Option<&mut Vec<Node>> {
    match &mut doc.value {
        NodeValue::Seq(items) => Some(items),
        NodeValue::Map(entries) => {
            match &mut entries.iter_mut().find(|(k, _)| k.name == "rules")?.1.value {
                NodeValue::Seq(items) => Some(items),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `&name` outside quotes on some line: an anchor.
fn has_anchor(text: &str) -> bool {
    text.lines().any(|l| {
        let mut quote = None;
        let mut prev = ' ';
        for c in l.chars() {
            match (quote, c) {
                (None, '#') if prev == ' ' => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '&') => return true,
                _ => {}
            }
            prev = c;
        }
        false
    })
}

/// Moves every location at or after line `from` by `by` lines.
fn shift(node: &mut Node, by: i64, from: u32) {
    if by == 0 {
        return;
    }
    let moved = |line: u32| {
        if line >= from {
            (line as i64 + by) as u32
        } else {
            line
        }
    };
    node.location.line = moved(node.location.line);
    match &mut node.value {
        NodeValue::Seq(items) => items.iter_mut().for_each(|n| shift(n, by, from)),
        NodeValue::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                k.location.line = moved(k.location.line);
                shift(v, by, from);
            }
        }
        _ => {}
    }
}

fn depth(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(depth).max().unwrap_or(0),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(count).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| count(v)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../../fixtures/bundles/inbox-triage.yaml");

    /// A tiny deterministic generator (SplitMix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const PIECES: [&str; 20] = [
        "x",
        "\n",
        "\n    priority: 7",
        "  ",
        "\"",
        ": ",
        "- ",
        "#",
        "\n  - id: new-rule\n    agent: inbox.*\n    action: quarantine\n    effect: deny\n    reason: A new rule typed in the middle",
        "&a ",
        "*",
        "1",
        "---\n",
        "...\n",
        "\t",
        "[",
        "{",
        "}",
        " -",
        "\n- ",
    ];

    /// Every edit, one after another like typing: the cache's tree is the
    /// full parse's, or both fail.
    #[test]
    fn incremental_parses_equal_full_parses() {
        let seed = std::env::var("GAVEL_INCREMENTAL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261201);
        let mut rng = Rng(seed);
        let mut cache = ParseCache::default();
        let mut text = TEXT.to_string();
        let mut incremental = 0;
        for _ in 0..3000 {
            // Edit at a random character boundary: insert a piece or delete.
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if rng.below(3) == 0 && at < text.len() {
                let mut end = (at + 1 + rng.below(8)).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, "");
            } else {
                text.insert_str(at, PIECES[rng.below(PIECES.len())]);
            }
            let got = cache.parse(&text, Format::Yaml);
            let want = parse_document(&text, Format::Yaml);
            match (&got, &want) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "after an edit at {at}:\n{text}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("incremental {got:?}\nfull {want:?}\n{text}"),
            }
            incremental += usize::from(cache.last_was_incremental);
            // Start again from a valid document now and then.
            if want.is_err() && rng.below(4) == 0 {
                text = TEXT.to_string();
            }
        }
        assert!(
            incremental > 300,
            "only {incremental} edits were incremental"
        );
    }

    #[test]
    fn an_edit_inside_one_rule_reuses_the_rest() {
        let mut cache = ParseCache::default();
        cache.parse(TEXT, Format::Yaml).expect("parses");
        let edited = TEXT.replace("priority: 75", "priority: 76\n    enabled: true");
        let tree = cache.parse(&edited, Format::Yaml).expect("parses");
        assert!(cache.last_was_incremental);
        assert_eq!(tree, parse_document(&edited, Format::Yaml).expect("parses"));
        // A change to the metadata is parsed whole.
        let meta = edited.replace("version: 1.0.0", "version: 1.0.1");
        cache.parse(&meta, Format::Yaml).expect("parses");
        assert!(!cache.last_was_incremental);
    }

    #[test]
    fn anchors_are_never_spliced() {
        assert!(has_anchor("  - id: a\n    conditions: &c {x: 1}\n"));
        assert!(!has_anchor(
            "  - id: a\n    reason: \"Tom & Jerry\"\n    agent: \"*\"\n"
        ));
        assert!(!has_anchor("    reason: fine # & in a comment\n"));
    }
}
