//! Typed errors for loading bundles and requests.

use std::fmt;

use serde::Serialize;

use crate::doc::Location;

/// One problem with an input, located as precisely as the input allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub message: String,
    /// RFC 6901 pointer of the offending value, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Diagnostic {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            pointer: None,
            line: Some(location.line),
            column: Some(location.column),
        }
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn location(&self) -> Option<Location> {
        Some(Location {
            line: self.line?,
            column: self.column?,
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(p) = &self.pointer {
            write!(f, " (at `{}`)", if p.is_empty() { "/" } else { p })?;
        }
        Ok(())
    }
}

/// The largest file Gavel reads as a bundle (16 MiB).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a bundle could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("file too large: {bytes} bytes, limit 16 MiB")]
    TooLarge { bytes: u64 },
    #[error("file is empty: write a bundle (`apiVersion`, `metadata`, `rules`) or a list of rules")]
    Empty,
    #[error("{0}")]
    Syntax(Diagnostic),
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out
}

impl LoadError {
    /// A stable machine-readable code for the `{"error": {code, …}}` contract.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::TooLarge { .. } => "file_too_large",
            LoadError::Empty => "empty_file",
            LoadError::Syntax(_) => "syntax_error",
            LoadError::Invalid(_) => "invalid_bundle",
        }
    }

    /// Every located problem this error carries.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            LoadError::Syntax(d) => vec![d.clone()],
            LoadError::Invalid(ds) => ds.clone(),
            LoadError::TooLarge { .. } | LoadError::Empty => vec![Diagnostic {
                message: self.to_string(),
                pointer: None,
                line: None,
                column: None,
            }],
        }
    }
}
