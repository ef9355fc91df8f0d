//! Safe retries of creating requests: the first request under an
//! `Idempotency-Key` stores the key with a hash of what it asked for; a retry with
//! the same key and request gets the first result back, a different request under
//! the same key is refused. Used by every creating use case.

use super::{Error, Result};

/// A client's key and the hash of its request (by each door's own canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

impl Idempotency {
    /// Keys longer than this are refused as malformed.
    pub const MAX_KEY_LEN: usize = 200;

    /// The key and request hash as stored, for the insert.
    pub fn parts(&self) -> (&str, &str) {
        (&self.key, &self.request_hash)
    }
}

/// What an earlier request under the same key made, given what the key's row
/// holds (`(id it created, request hash)`): `Ok(None)` when there is none.
pub fn replay<T>(
    stored: Option<(i64, String)>,
    request: &Idempotency,
    load: impl FnOnce(i64) -> Result<Option<T>>,
) -> Result<Option<T>> {
    match stored {
        Some((_, hash)) if hash != request.request_hash => Err(Error::IdempotencyMismatch),
        Some((id, _)) => load(id),
        None => Ok(None),
    }
}
