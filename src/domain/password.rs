//! Password hashing with argon2id (OWASP's recommended parameters, the crate's defaults).

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_CHARS: usize = 8;

/// What is wrong with a new password, as a catalog key: too short, or holding a
/// control character (NUL and the like: no keyboard types one, and a C library
/// or directory bind down the line would cut the password there).
pub fn problem(new: &str) -> Option<&'static str> {
    if new.chars().count() < MIN_CHARS {
        Some("validation.too_short")
    } else if super::validation::has_control_characters(new) {
        Some("validation.control_characters")
    } else {
        None
    }
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// The stored hash of an account without a password of its own (made by an
/// import: its owner signs in through the directory, or sets one with a reset
/// link). It is not a PHC string, so no password verifies against it.
pub const UNUSABLE: &str = "!no-password";

pub fn verify(password: &str, hash: &str) -> bool {
    if hash == UNUSABLE {
        // Costs what a wrong password costs, so timing does not tell such
        // accounts apart.
        verify(password, decoy_hash());
        return false;
    }
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A real hash nobody's password matches. Verifying against it when an e-mail is
/// unknown makes that answer take as long as a wrong password, so response times
/// do not reveal which addresses have accounts.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing").unwrap_or_default())
}

/// What is stored of a one-time token: its SHA-256 in hex. A token carries 256
/// random bits, so a fast hash is enough (nothing to guess), and a copy of the
/// database holds no usable link.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_digest_is_the_sha256_in_hex() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!verify("", UNUSABLE));
        assert!(!verify("!no-password", UNUSABLE));
    }
}
