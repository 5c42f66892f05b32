//! Secrets Roster hands out — terminal credentials, invite codes, stream tickets — and the
//! hashes that are stored instead of them: a leaked database holds no usable secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh random credential and the hash that is stored instead of it.
pub(crate) fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = secret_hash(&secret);
    (secret, hash)
}

/// The stored form of a credential or invite code.
pub(crate) fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::terminal::TOKEN_PREFIX;

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (a, hash_a) = new_secret(TOKEN_PREFIX);
        let (b, _) = new_secret(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(secret_hash(&a), hash_a);
        assert_ne!(hash_a, a.as_bytes());
    }
}
