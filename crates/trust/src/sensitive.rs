//! A wrapper for secrets: its `Debug` is redacted and it cannot be
//! serialized, so a secret cannot reach a log or a file by accident.

use std::fmt;

/// A secret value. Read it with [`Sensitive::expose`], deliberately.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", super::Sensitive::new(b"hunter2".to_vec())),
            "Sensitive(<redacted>)"
        );
    }
}
