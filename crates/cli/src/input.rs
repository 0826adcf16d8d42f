//! Reading the files and streams the commands are given.

use std::io::{BufRead, Read};

use gavel_policy::{Bundle, Format, LoadError, MAX_FILE_BYTES, parse_bundle};
use gavel_trust::PublicKey;

use crate::failure::Failure;

/// Reads a file (or standard input for `-`), refusing anything over 16 MiB
/// before reading it whole.
pub fn read_text(path: &str) -> Result<String, Failure> {
    let too_large = |bytes: u64| Failure::load(path, None, &LoadError::TooLarge { bytes });
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Failure::new("unreadable", format!("cannot read standard input: {e}")).in_file(path)
            })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
    } else {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
        let len = file.metadata().map_err(|e| unreadable(path, &e))?.len();
        if len > MAX_FILE_BYTES {
            return Err(too_large(len));
        }
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreadable(path, &e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(
            "unreadable",
            format!(
                "file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
        .in_file(path)
    })
}

fn unreadable(path: &str, e: &std::io::Error) -> Failure {
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => "; check the path",
        std::io::ErrorKind::PermissionDenied => "; check its permissions",
        _ => "",
    };
    Failure::new("unreadable", format!("cannot read `{path}`: {e}{hint}")).in_file(path)
}

/// Reads and validates a bundle file.
pub fn load_bundle(path: &str) -> Result<Bundle, Failure> {
    let text = read_text(path)?;
    parse_bundle(&text, Format::detect(path, &text))
        .map_err(|e| Failure::load(path, Some(text), &e))
}

/// Reads public key documents (`{keyid, algorithm, public_key, name,
/// email, roles}`, as `keys export` prints them) for `--key`: each must
/// parse, with no field given twice, and hold a usable Ed25519 key.
pub fn read_public_keys(files: &[String]) -> Result<Vec<PublicKey>, Failure> {
    files
        .iter()
        .map(|k| {
            let text = read_text(k)?;
            let key: PublicKey = serde_json::from_str(&text).map_err(|e| {
                Failure::new("invalid_key", format!("not a public key document: {e}")).in_file(k)
            })?;
            key.verifying_key()
                .map_err(|e| Failure::new("invalid_key", e.to_string()).in_file(k))?;
            Ok(key)
        })
        .collect()
}

/// The longest line a JSON Lines input may have. Line-oriented inputs
/// (scorecards, cases, decision logs, batch requests) are streamed, so
/// their files may be of any size; each line is bounded instead.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Opens a file, or standard input for `-`, for reading line by line.
pub fn open_lines(path: &str) -> Result<Box<dyn BufRead>, Failure> {
    if path == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
}

/// Lines read from a file or standard input, bounded and numbered.
struct Lines<'p> {
    path: &'p str,
    reader: Box<dyn BufRead>,
    number: usize,
}

impl<'p> Lines<'p> {
    fn open(path: &'p str) -> Result<Self, Failure> {
        Ok(Lines {
            path,
            reader: open_lines(path)?,
            number: 0,
        })
    }

    /// Appends the next line to `buf`: its number and where its text sits
    /// in `buf` (without the line ending, or the byte order mark of the
    /// first line), `None` at the end. A line over [`MAX_LINE_BYTES`]
    /// fails with its number.
    fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<(usize, usize, usize)>, Failure> {
        let start = buf.len();
        let read = self
            .reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', buf)
            .map_err(|e| unreadable(self.path, &e))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        let number = self.number;
        let mut line = &buf[start..];
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        } else if read > MAX_LINE_BYTES {
            return Err(line_failure(
                self.path,
                number,
                "line_too_long",
                format!(
                    "line {number} is longer than {} MiB, the limit for one line; put one record on each line",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        let mut from = start;
        if number == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            from += 3;
        }
        Ok(Some((number, from, start + line.len())))
    }

    /// `bytes` as text, or the failure naming line `number`.
    fn text<'b>(&self, number: usize, bytes: &'b [u8]) -> Result<&'b str, Failure> {
        std::str::from_utf8(bytes).map_err(|e| {
            line_failure(
                self.path,
                number,
                "unreadable",
                format!(
                    "line {number} is not UTF-8 text (invalid byte at column {})",
                    e.valid_up_to() + 1
                ),
            )
        })
    }
}

/// Calls `each` with every line of `path` (1-based line number, text
/// without its line ending; a UTF-8 byte order mark on the first line is
/// dropped), without ever holding more than one line. A line over
/// [`MAX_LINE_BYTES`] or not UTF-8 stops the read with its line number.
pub fn for_each_line(
    path: &str,
    mut each: impl FnMut(usize, &str) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut lines = Lines::open(path)?;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let Some((number, from, to)) = lines.next(&mut buf)? else {
            return Ok(());
        };
        each(number, lines.text(number, &buf[from..to])?)?;
    }
}

/// The lines of `path` as [`for_each_line`] reads them, given to `each` a
/// block at a time (up to `max_lines` lines, or about 8 MiB), for work that
/// goes on in parallel. A line that cannot be read stops the read after
/// the lines before it are given.
pub fn for_each_line_block(
    path: &str,
    max_lines: usize,
    mut each: impl FnMut(&[(usize, &str)]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    const BLOCK_BYTES: usize = 8 << 20;
    let mut lines = Lines::open(path)?;
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    loop {
        buf.clear();
        spans.clear();
        let mut stop = None;
        while spans.len() < max_lines.max(1) && buf.len() < BLOCK_BYTES {
            match lines.next(&mut buf) {
                Ok(Some(span)) => spans.push(span),
                Ok(None) => break,
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        let mut block = Vec::with_capacity(spans.len());
        for &(number, from, to) in &spans {
            match lines.text(number, &buf[from..to]) {
                Ok(text) => block.push((number, text)),
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        if !block.is_empty() {
            each(&block)?;
        }
        if let Some(e) = stop {
            return Err(e);
        }
        if spans.len() < max_lines.max(1) && buf.len() < BLOCK_BYTES {
            return Ok(());
        }
    }
}

/// A failure located at a line of `path`.
pub fn line_failure(path: &str, line: usize, code: &'static str, message: String) -> Failure {
    let mut f = Failure::new(code, message).in_file(path);
    if let Some(d) = f.diagnostics.first_mut() {
        d.line = u32::try_from(line).ok();
    }
    f
}

/// `f` over `items` on up to `threads` threads, results in order in
/// `out` (cleared first; kept by the caller from one call to the next, so
/// its memory is reused rather than asked of the system again).
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    out: &mut Vec<Option<R>>,
    f: impl Fn(usize, &T) -> R + Sync,
) {
    out.clear();
    let threads = threads.clamp(1, 64);
    if threads == 1 || items.len() < 1_000 {
        out.extend(items.iter().enumerate().map(|(i, t)| Some(f(i, t))));
        return;
    }
    out.resize_with(items.len(), || None);
    let per = items.len().div_ceil(threads);
    let f = &f;
    let fill = move |k: usize, part: &[T], slots: &mut [Option<R>]| {
        for (i, (t, slot)) in part.iter().zip(slots).enumerate() {
            *slot = Some(f(k * per + i, t));
        }
    };
    std::thread::scope(|s| {
        let mut parts = items.chunks(per).zip(out.chunks_mut(per)).enumerate();
        let first = parts.next();
        // The first part on this thread, the others on threads of their own.
        let handles: Vec<_> = parts
            .map(|(k, (part, slots))| s.spawn(move || fill(k, part, slots)))
            .collect();
        if let Some((k, (part, slots))) = first {
            fill(k, part, slots);
        }
        for h in handles {
            // Only a bug panics in `f`: show it as it was.
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}
