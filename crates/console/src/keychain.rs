//! The one place that touches the OS keychain. Private keys and HMAC
//! secrets are stored only here, under a service name (`gavel` by default)
//! and an account (`ed25519:<keyid>`, `hmac:<name>`).

use std::collections::HashMap;
use std::sync::Mutex;

use gavel_trust::Sensitive;

/// Why the keychain could not be used.
#[derive(Debug, thiserror::Error)]
#[error("keychain: {0}")]
pub struct KeychainError(pub String);

/// Where secrets live. The OS keychain in production; a map in unit tests.
pub trait Keychain: Send + Sync + std::fmt::Debug {
    fn get(&self, account: &str) -> Result<Option<Sensitive<Vec<u8>>>, KeychainError>;
    fn set(&self, account: &str, secret: &Sensitive<Vec<u8>>) -> Result<(), KeychainError>;
    fn delete(&self, account: &str) -> Result<(), KeychainError>;
}

/// The OS keychain through the `keyring` crate (Secret Service on Linux,
/// Keychain on macOS, Credential Manager on Windows).
#[derive(Debug, Clone)]
pub struct OsKeychain {
    service: String,
}

impl OsKeychain {
    pub fn new(service: &str) -> Self {
        OsKeychain {
            service: service.to_string(),
        }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, account).map_err(|e| KeychainError(e.to_string()))
    }
}

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<Sensitive<Vec<u8>>>, KeychainError> {
        match self.entry(account)?.get_secret() {
            Ok(bytes) => Ok(Some(Sensitive::new(bytes))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(KeychainError(format!(
                "cannot read `{account}` from the OS keychain: {e} (is a Secret Service such as gnome-keyring running and unlocked?)"
            ))),
        }
    }

    fn set(&self, account: &str, secret: &Sensitive<Vec<u8>>) -> Result<(), KeychainError> {
        self.entry(account)?.set_secret(secret.expose()).map_err(|e| {
            KeychainError(format!(
                "cannot store `{account}` in the OS keychain: {e} (is a Secret Service such as gnome-keyring running and unlocked?)"
            ))
        })
    }

    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError(format!(
                "cannot delete `{account}` from the OS keychain: {e}"
            ))),
        }
    }
}

/// An in-memory keychain for unit tests.
#[derive(Debug, Default)]
pub struct MemoryKeychain {
    entries: Mutex<HashMap<String, Vec<u8>>>,
}

impl Keychain for MemoryKeychain {
    fn get(&self, account: &str) -> Result<Option<Sensitive<Vec<u8>>>, KeychainError> {
        let map = self
            .entries
            .lock()
            .map_err(|_| KeychainError("poisoned".into()))?;
        Ok(map.get(account).cloned().map(Sensitive::new))
    }

    fn set(&self, account: &str, secret: &Sensitive<Vec<u8>>) -> Result<(), KeychainError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| KeychainError("poisoned".into()))?;
        map.insert(account.to_string(), secret.expose().clone());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| KeychainError("poisoned".into()))?;
        map.remove(account);
        Ok(())
    }
}
