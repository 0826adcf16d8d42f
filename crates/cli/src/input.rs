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

/// Calls `each` with every line of `path` (1-based line number, text
/// without its line ending; a UTF-8 byte order mark on the first line is
/// dropped), without ever holding more than one line. A line over
/// [`MAX_LINE_BYTES`] or not UTF-8 stops the read with its line number.
pub fn for_each_line(
    path: &str,
    mut each: impl FnMut(usize, &str) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut reader = open_lines(path)?;
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| unreadable(path, &e))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let mut line = buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        } else if read > MAX_LINE_BYTES {
            return Err(line_failure(
                path,
                number,
                "line_too_long",
                format!(
                    "line {number} is longer than {} MiB, the limit for one line; put one record on each line",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        if number == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            line_failure(
                path,
                number,
                "unreadable",
                format!(
                    "line {number} is not UTF-8 text (invalid byte at column {})",
                    e.valid_up_to() + 1
                ),
            )
        })?;
        each(number, text)?;
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
