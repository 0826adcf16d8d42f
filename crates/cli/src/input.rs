//! Reading the files and streams the commands are given.

use std::io::Read;

use gavel_policy::{Bundle, Format, LoadError, MAX_FILE_BYTES, parse_bundle};

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
