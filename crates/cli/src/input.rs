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
            return Err(too_long(self.path, number));
        }
        let mut from = start;
        if number == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            from += 3;
        }
        Ok(Some((number, from, start + line.len())))
    }

    /// `bytes` as text, or the failure naming line `number`.
    fn text<'b>(&self, number: usize, bytes: &'b [u8]) -> Result<&'b str, Failure> {
        std::str::from_utf8(bytes).map_err(|e| not_utf8(self.path, number, &e))
    }
}

/// Line `number` of `path` is over [`MAX_LINE_BYTES`].
fn too_long(path: &str, number: usize) -> Failure {
    line_failure(
        path,
        number,
        "line_too_long",
        format!(
            "line {number} is longer than {} MiB, the limit for one line; put one record on each line",
            MAX_LINE_BYTES >> 20
        ),
    )
}

/// Line `number` of `path` is not UTF-8.
fn not_utf8(path: &str, number: usize, e: &std::str::Utf8Error) -> Failure {
    line_failure(
        path,
        number,
        "unreadable",
        format!(
            "line {number} is not UTF-8 text (invalid byte at column {})",
            e.valid_up_to() + 1
        ),
    )
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
/// block at a time (up to `max_lines` lines, or about 4 MiB), for work that
/// goes on in parallel. A line that cannot be read stops the read after
/// the lines before it are given.
///
/// The file is read in large pieces straight into one buffer, and lines
/// are found in it a vector at a time: no copy of a line, no call a line.
pub fn for_each_line_block(
    path: &str,
    max_lines: usize,
    mut each: impl FnMut(&[(usize, &str)]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    const BLOCK_BYTES: usize = 4 << 20;
    // A read asks for at most this much: what is read past a block's end
    // is moved to the front before the next one.
    const READ: usize = 256 << 10;
    let max_lines = max_lines.max(1);
    let mut input: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| unreadable(path, &e))?)
    };
    // Room for a block, the line that crosses its end and a read (a line
    // is never longer than `MAX_LINE_BYTES`): a block starts at most one
    // line's length into the buffer (see below), so it always fits.
    const ROOM: usize = BLOCK_BYTES + MAX_LINE_BYTES + READ;
    // Reads append to the list, so its memory is touched (and the system
    // asked for pages) only as far as the text goes.
    let mut buf: Vec<u8> = Vec::with_capacity(ROOM + MAX_LINE_BYTES);
    // The next line starts at `at`.
    let (mut at, mut eof, mut number) = (0, false, 0);
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    loop {
        // What is left (a line and a read at most) moves to the front when
        // the room after it is short: once every `MAX_LINE_BYTES` read at
        // most, so however small the blocks, the text is copied about once.
        if buf.capacity() - at < ROOM {
            buf.drain(..at);
            at = 0;
        }
        let block_start = at;
        spans.clear();
        let mut stop = None;
        while spans.len() < max_lines && at - block_start < BLOCK_BYTES {
            let rest = buf.get(at..).unwrap_or_default();
            let (end, next) = match memchr::memchr(b'\n', rest) {
                Some(p) => (at + p, at + p + 1),
                None if rest.len() <= MAX_LINE_BYTES && !eof => {
                    match input.by_ref().take(READ as u64).read_to_end(&mut buf) {
                        Ok(0) => eof = true,
                        Ok(_) => {}
                        Err(e) => {
                            stop = Some(unreadable(path, &e));
                            break;
                        }
                    }
                    continue;
                }
                None if rest.is_empty() => break,
                None => (buf.len(), buf.len()),
            };
            number += 1;
            if end - at > MAX_LINE_BYTES {
                stop = Some(too_long(path, number));
                break;
            }
            let mut from = at;
            let mut to = end;
            if next > end && to > from && buf.get(to - 1) == Some(&b'\r') {
                to -= 1;
            }
            if number == 1
                && buf
                    .get(from..to)
                    .is_some_and(|l| l.starts_with(b"\xEF\xBB\xBF"))
            {
                from += 3;
            }
            spans.push((number, from, to));
            at = next;
        }
        let mut block = Vec::with_capacity(spans.len());
        // The block's text checked in one call (long runs of ASCII go
        // fastest that way), each line then a slice of it: its ends sit
        // next to ASCII line breaks or after a whole byte order mark. Only
        // a block that is not UTF-8 is checked a line at a time, to say
        // which line and where.
        let whole = std::str::from_utf8(buf.get(block_start..at).unwrap_or_default()).ok();
        for &(number, from, to) in &spans {
            let line = match whole.and_then(|t| t.get(from - block_start..to - block_start)) {
                Some(text) => Ok(text),
                None => std::str::from_utf8(buf.get(from..to).unwrap_or_default()),
            };
            match line {
                Ok(text) => block.push((number, text)),
                Err(e) => {
                    stop = Some(not_utf8(path, number, &e));
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
        if eof && at >= buf.len() {
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

/// `work` over shares of `items` (`per_share` each) on up to `threads`
/// threads, this one included, and `emit` given each share's output in
/// order, as soon as the shares before it are emitted: emitting (printing,
/// logging, folding) overlaps the work on later shares. This thread works
/// on a share whenever the next one to emit is not ready. An error from
/// `emit` ends the run: the workers take no more shares.
pub fn in_order<T: Sync, S: Send>(
    items: &[T],
    per_share: usize,
    threads: usize,
    work: impl Fn(&[T]) -> S + Sync,
    mut emit: impl FnMut(S) -> Result<(), Failure>,
) -> Result<(), Failure> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let shares: Vec<&[T]> = items.chunks(per_share.max(1)).collect();
    let threads = threads.clamp(1, 64).min(shares.len());
    if threads <= 1 {
        return shares.into_iter().try_for_each(|share| emit(work(share)));
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (done, received) = std::sync::mpsc::channel::<(usize, S)>();
        for _ in 1..threads {
            let (done, next, shares, work) = (done.clone(), &next, &shares, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(share) = shares.get(i) else {
                        break;
                    };
                    if done.send((i, work(share))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut ready: Vec<Option<S>> = shares.iter().map(|_| None).collect();
        let mut emitted = 0;
        let result = loop {
            while let Ok((i, out)) = received.try_recv() {
                if let Some(slot) = ready.get_mut(i) {
                    *slot = Some(out);
                }
            }
            if emitted == shares.len() {
                break Ok(());
            }
            if let Some(out) = ready.get_mut(emitted).and_then(Option::take) {
                if let Err(e) = emit(out) {
                    break Err(e);
                }
                emitted += 1;
                continue;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            if let (Some(share), Some(slot)) = (shares.get(i), ready.get_mut(i)) {
                *slot = Some(work(share));
                continue;
            }
            match received.recv() {
                Ok((i, out)) => {
                    if let Some(slot) = ready.get_mut(i) {
                        *slot = Some(out);
                    }
                }
                // Every worker gone with shares unemitted: only a panic
                // does that, and the scope raises it as it ends.
                Err(_) => {
                    break Err(Failure::new(
                        "internal",
                        "a worker thread stopped unexpectedly",
                    ));
                }
            }
        };
        // A stop here: the workers take no more shares.
        next.store(shares.len(), Ordering::Relaxed);
        result
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a reader gave: every line (number, text), then the error's
    /// code and line, if any.
    type Read = (Vec<(usize, String)>, Option<(String, Option<u32>)>);

    fn one_by_one(path: &str) -> Read {
        let mut lines = Vec::new();
        let end = for_each_line(path, |n, l| {
            lines.push((n, l.to_string()));
            Ok(())
        });
        (lines, end.err().map(stop))
    }

    fn by_blocks(path: &str, max_lines: usize) -> (Read, usize) {
        let (mut lines, mut blocks) = (Vec::new(), 0);
        let end = for_each_line_block(path, max_lines, |block| {
            assert!(!block.is_empty() && block.len() <= max_lines.max(1));
            blocks += 1;
            lines.extend(block.iter().map(|&(n, l)| (n, l.to_string())));
            Ok(())
        });
        ((lines, end.err().map(stop)), blocks)
    }

    fn stop(f: Failure) -> (String, Option<u32>) {
        (
            f.code.to_string(),
            f.diagnostics.first().and_then(|d| d.line),
        )
    }

    /// The block reader gives the lines the line-at-a-time reader gives,
    /// and stops where and as it stops: line endings (`\n`, `\r\n`, none
    /// at the end), a byte order mark, blank lines, a line of exactly the
    /// limit and one byte over it, bytes that are not UTF-8, lines across
    /// the 4 MiB end of a block.
    #[test]
    fn blocks_hold_the_lines_one_at_a_time_reading_gives() {
        let dir = tempfile::tempdir().unwrap();
        let big = "x".repeat(MAX_LINE_BYTES);
        let mut many = String::new();
        while many.len() < (9 << 20) {
            many.push_str(&format!(
                "{{\"n\":{},\"s\":\"{}\"}}\n",
                many.len(),
                "s".repeat(3000)
            ));
        }
        let inputs: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("plain", b"a\nb\nc\n".to_vec()),
            ("no end", b"a\n\nb".to_vec()),
            ("crlf", b"\xEF\xBB\xBFa\r\nb\r\n\r\nlast\r".to_vec()),
            ("blank", b"\n\n".to_vec()),
            ("at the limit", format!("a\n{big}\nb\n").into_bytes()),
            ("over the limit", format!("a\n{big}x\nb\n").into_bytes()),
            ("over at the end", format!("a\n{big}x").into_bytes()),
            ("not utf-8", b"a\nb\xFF\nc\n".to_vec()),
            ("many", many.clone().into_bytes()),
            ("many, then bad", [many.as_bytes(), b"\xC3\n"].concat()),
        ];
        for (name, bytes) in inputs {
            let path = dir.path().join("in.jsonl");
            std::fs::write(&path, &bytes).unwrap();
            let path = path.to_str().unwrap();
            let want = one_by_one(path);
            for max_lines in [1, 2, 16_384] {
                let (got, blocks) = by_blocks(path, max_lines);
                assert!(got == want, "{name}, {max_lines} lines a block");
                if name.starts_with("many") && max_lines > 2 {
                    assert!(blocks >= 2, "{name}: 9 MiB in one block");
                }
            }
        }
        // What the oracle says, for the record.
        let path = dir.path().join("crlf.jsonl");
        std::fs::write(&path, b"\xEF\xBB\xBFa\r\nb\n").unwrap();
        assert_eq!(
            by_blocks(path.to_str().unwrap(), 8).0,
            (vec![(1, "a".to_string()), (2, "b".to_string())], None)
        );
        std::fs::write(&path, format!("a\n{big}x\nb\n")).unwrap();
        assert_eq!(
            by_blocks(path.to_str().unwrap(), 8).0,
            (
                vec![(1, "a".to_string())],
                Some(("line_too_long".to_string(), Some(2)))
            )
        );
    }
}
