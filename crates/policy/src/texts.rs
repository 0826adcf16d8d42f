//! A fixed set of strings and their ids, built once when a bundle compiles
//! and looked up for every request: agents, namespaces, actions, the context
//! keys conditions read and the strings they compare with.
//!
//! An open-addressing table probed linearly, at most half full, keyed by a
//! hash of a string's length and its first and last words, with a
//! multiplier chosen when the table is built so that, where one can be
//! found, no two strings land on the same entry: a lookup is then one hash
//! and one entry. For a string of up to 16 bytes those two words and the
//! length are the whole string, so the entry is compared by them alone,
//! without reading the text; a longer one is compared in full. A lookup of
//! any string reads at most as many entries as the string that was placed
//! furthest from its own, whatever the string.

use crate::value::same_text;

/// Strings and their ids.
#[derive(Debug, Clone)]
pub(crate) struct TextTable {
    /// A power of two long, at least twice the strings; empty entries have
    /// no length ([`EMPTY`]).
    entries: Box<[Entry]>,
    /// The hash's multiplier (odd).
    seed: u64,
    /// 64 less the number of bits of an entry's index.
    shift: u32,
    /// The most entries past its own that a string was placed.
    reach: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    words: Words,
    id: u32,
    /// The text, read only to compare strings longer than 16 bytes.
    text: Box<str>,
}

/// A string's length and its first and last words (see [`words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Words {
    first: u64,
    last: u64,
    len: u64,
}

const EMPTY: Words = Words {
    first: 0,
    last: 0,
    len: u64::MAX,
};

/// Multipliers tried in turn for a table without collisions (odd, with
/// bits spread across the word).
const SEEDS: [u64; 8] = [
    0x9e37_79b9_7f4a_7c15,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
    0x1d8e_4e27_c47d_124f,
    0xc2b2_ae3d_27d4_eb4f,
];

impl TextTable {
    /// A table of `items`. The first of two equal strings keeps its id.
    pub(crate) fn new<'s>(items: impl IntoIterator<Item = (&'s str, u32)>) -> TextTable {
        let mut unique: Vec<(&str, u32)> = Vec::new();
        let mut seen = rustc_hash::FxHashSet::default();
        for (text, id) in items {
            if seen.insert(text) {
                unique.push((text, id));
            }
        }
        let size = (2 * unique.len()).next_power_of_two().max(2);
        let shift = 64 - size.trailing_zeros();
        // The first multiplier that places every string on its own entry,
        // else the one that places them closest to their own.
        let mut best: Option<TextTable> = None;
        for seed in SEEDS {
            let table = TextTable::place(&unique, size, shift, seed);
            let done = table.reach == 0;
            if best.as_ref().is_none_or(|b| table.reach < b.reach) {
                best = Some(table);
            }
            if done {
                break;
            }
        }
        best.unwrap_or_else(|| TextTable::place(&unique, size, shift, SEEDS[0]))
    }

    fn place(items: &[(&str, u32)], size: usize, shift: u32, seed: u64) -> TextTable {
        let mut entries = vec![
            Entry {
                words: EMPTY,
                id: 0,
                text: Box::default(),
            };
            size
        ];
        let mask = size - 1;
        let mut reach = 0;
        for &(text, id) in items {
            let w = words(text.as_bytes());
            let mut at = w.index(seed, shift);
            let mut past = 0;
            // At most half full: an empty entry is always ahead.
            while let Some(e) = entries.get_mut(at) {
                if e.words == EMPTY {
                    *e = Entry {
                        words: w,
                        id,
                        text: text.into(),
                    };
                    break;
                }
                at = (at + 1) & mask;
                past += 1;
            }
            reach = reach.max(past);
        }
        TextTable {
            entries: entries.into_boxed_slice(),
            seed,
            shift,
            reach,
        }
    }

    /// The id of `text`, if it is one of the table's strings.
    #[inline(always)]
    pub(crate) fn get(&self, text: &str) -> Option<u32> {
        let w = words(text.as_bytes());
        let mask = self.entries.len() - 1;
        let mut at = w.index(self.seed, self.shift);
        let mut more = self.reach;
        loop {
            let e = self.entries.get(at)?;
            if e.words == w && (w.len <= 16 || same_text(&e.text, text)) {
                return Some(e.id);
            }
            if more == 0 {
                return None;
            }
            more -= 1;
            at = (at + 1) & mask;
        }
    }

    /// How many strings the table holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.words != EMPTY).count()
    }
}

impl Words {
    /// The entry this string's hash falls on before probing.
    #[inline(always)]
    fn index(self, seed: u64, shift: u32) -> usize {
        let mixed = self.first ^ self.last.rotate_left(29) ^ self.len.wrapping_mul(SEEDS[1]);
        (mixed.wrapping_mul(seed) >> shift) as usize
    }
}

/// Eight bytes from `at` (little-endian), or zero past the end.
#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Four bytes from `at`, or zero past the end.
#[inline(always)]
fn half(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
}

/// A string's length and two words that, up to 16 bytes, are the string:
/// its first and last eight bytes (four, for 4 to 7; the first, middle and
/// last byte for 1 to 3). Past 16 bytes the middle is folded into the last.
#[inline(always)]
fn words(s: &[u8]) -> Words {
    let n = s.len();
    let (first, mut last) = match n {
        0 => (0, 0),
        1..=3 => {
            let byte = |i: usize| u64::from(s.get(i).copied().unwrap_or(0));
            (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0)
        }
        4..=7 => (half(s, 0), half(s, n - 4)),
        _ => (word(s, 0), word(s, n - 8)),
    };
    if n > 16 {
        let mut at = 8;
        while at + 8 < n {
            last = (last ^ word(s, at)).rotate_left(23).wrapping_mul(SEEDS[2]);
            at += 8;
        }
    }
    Words {
        first,
        last,
        len: n as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of the table is found with its id, whatever its length
    /// or how many strings share a prefix or a suffix; none else is.
    #[test]
    fn finds_exactly_its_strings() {
        for count in [0usize, 1, 2, 3, 7, 8, 9, 100, 5_000] {
            let texts: Vec<String> = (0..count)
                .map(|i| match i % 4 {
                    0 => format!("billing.agent-{i}"),
                    1 => format!("{i}"),
                    2 => format!("a-very-long-shared-prefix-{i}-and-a-long-shared-suffix"),
                    _ => "x".repeat(i % 40),
                })
                .collect();
            let table = TextTable::new(
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.as_str(), i as u32)),
            );
            // `x` repeated: the first of equal strings keeps its id.
            let mut first: std::collections::HashMap<&str, u32> = Default::default();
            for (i, t) in texts.iter().enumerate() {
                first.entry(t.as_str()).or_insert(i as u32);
            }
            assert_eq!(table.len(), first.len());
            for (t, &id) in &first {
                assert_eq!(table.get(t), Some(id), "{t} of {count}");
            }
            for t in &texts {
                for other in [
                    format!("{t}!"),
                    format!("!{t}"),
                    t.chars().rev().collect::<String>(),
                    t.get(1..).unwrap_or_default().to_string(),
                ] {
                    if !first.contains_key(other.as_str()) {
                        assert_eq!(table.get(&other), None, "{other} of {count}");
                    }
                }
            }
            assert_eq!(table.get("not one of them at all"), None);
        }
    }

    /// Up to 16 bytes the words are the string: strings that differ in one
    /// byte anywhere, or in length, have different words.
    #[test]
    fn short_strings_are_their_words() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop".as_bytes();
        for n in 0..=base.len() {
            let s = &base[..n];
            for i in 0..n {
                let mut t = s.to_vec();
                t[i] ^= 1;
                if n <= 16 {
                    assert_ne!(words(s), words(&t), "{n} bytes, byte {i}");
                }
            }
            if n > 0 {
                assert_ne!(words(s), words(&base[..n - 1]), "{n} bytes");
            }
        }
    }

    /// Past 16 bytes the words are not the string: two strings whose middle
    /// and last words are swapped fold to the same words, and only the full
    /// comparison tells them apart.
    #[test]
    fn long_strings_with_the_same_words_are_told_apart() {
        let (a, b) = ("prefix00AAAAAAAABBBBBBBB", "prefix00BBBBBBBBAAAAAAAA");
        assert_eq!(words(a.as_bytes()), words(b.as_bytes()));
        let table = TextTable::new([(a, 7)]);
        assert_eq!(table.get(a), Some(7));
        assert_eq!(table.get(b), None);
        let both = TextTable::new([(a, 1), (b, 2)]);
        assert_eq!((both.get(a), both.get(b)), (Some(1), Some(2)));
    }

    /// A few strings land on entries of their own, one probe each; many
    /// strings that share long prefixes and suffixes are still all found.
    #[test]
    fn few_strings_take_one_probe_each() {
        let names = [
            "risk_score",
            "amount",
            "category",
            "region",
            "sender.domain",
        ];
        let table = TextTable::new(names.iter().zip(0..).map(|(t, i)| (*t, i)));
        assert_eq!(table.reach, 0);
        for (i, t) in names.iter().enumerate() {
            assert_eq!(table.get(t), Some(i as u32));
        }
        let long: Vec<String> = (0..3_000)
            .map(|i| format!("a-long-shared-prefix-{i:05}-a-long-shared-suffix"))
            .collect();
        let table = TextTable::new(long.iter().zip(0..).map(|(t, i)| (t.as_str(), i)));
        for (i, t) in long.iter().enumerate() {
            assert_eq!(table.get(t), Some(i as u32), "{t}");
        }
        assert_eq!(
            table.get("a-long-shared-prefix-99999-a-long-shared-suffix"),
            None
        );
    }
}
