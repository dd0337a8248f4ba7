//! Secrets at rest: AES-256-GCM with a key derived from COOKIE_SECRET by HKDF-SHA256.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

const INFO: &[u8] = b"halite/salt-password";

fn cipher(cookie_secret: &str) -> Aes256Gcm {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, cookie_secret.as_bytes());
    let mut key = [0u8; 32];
    hk.expand(INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new(&key.into())
}

/// Encrypt `plain`; the output is base64(nonce || ciphertext).
pub fn encrypt(cookie_secret: &str, plain: &str) -> String {
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher(cookie_secret)
        .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Decrypt what [`encrypt`] produced; `None` when the key changed or the data is damaged.
pub fn decrypt(cookie_secret: &str, stored: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .ok()?;
    if raw.len() < 13 {
        return None;
    }
    let (nonce, ct) = raw.split_at(12);
    let plain = cipher(cookie_secret)
        .decrypt(Nonce::from_slice(nonce), ct)
        .ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    const K: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_wrong_key() {
        let enc = encrypt(K, "s3cret pw");
        assert!(!enc.contains("s3cret"));
        assert_eq!(decrypt(K, &enc).as_deref(), Some("s3cret pw"));
        assert_eq!(decrypt("another-secret-another-secret-xx", &enc), None);
        assert_eq!(decrypt(K, "not base64!!"), None);
        assert_ne!(encrypt(K, "x"), encrypt(K, "x"), "random nonce");
    }
}
