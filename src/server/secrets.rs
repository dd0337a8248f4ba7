//! Secrets at rest: AES-256-GCM with a key derived from COOKIE_SECRET by HKDF-SHA256.
//!
//! One [`SecretsCipher`] is built at start-up and kept in the app state (and the runtime); it is
//! the only thing that encrypts or decrypts the stored salt-api password.

use crate::salt::SaltPassword;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

const INFO: &[u8] = b"halite/salt-password";

/// Encrypts and decrypts the stored salt-api password.
#[derive(Clone)]
pub struct SecretsCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretsCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsCipher([REDACTED])")
    }
}

impl SecretsCipher {
    /// The cipher for `cookie_secret` (the key is derived once, here).
    pub fn new(cookie_secret: &str) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, cookie_secret.as_bytes());
        let mut key = [0u8; 32];
        hk.expand(INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SecretsCipher {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// Encrypt `plain`; the output is base64(nonce || ciphertext).
    pub fn encrypt(&self, plain: &SaltPassword) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.expose().as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Decrypt what [`SecretsCipher::encrypt`] produced; `None` when the key changed or the data
    /// is damaged.
    pub fn decrypt(&self, stored: &str) -> Option<SaltPassword> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .ok()?;
        if raw.len() < 13 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(plain).ok().map(SaltPassword::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const K: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_wrong_key() {
        let c = SecretsCipher::new(K);
        let enc = c.encrypt(&"s3cret pw".into());
        assert!(!enc.contains("s3cret"));
        assert_eq!(c.decrypt(&enc), Some(SaltPassword::from("s3cret pw")));
        assert_eq!(
            SecretsCipher::new("another-secret-another-secret-xx").decrypt(&enc),
            None
        );
        assert_eq!(c.decrypt("not base64!!"), None);
        assert_ne!(
            c.encrypt(&"x".into()),
            c.encrypt(&"x".into()),
            "random nonce"
        );
    }

    #[test]
    fn the_password_cannot_be_printed() {
        let pw = SaltPassword::from("s3cret pw");
        assert_eq!(format!("{pw:?}"), "[REDACTED]");
        let cfg = crate::salt::SaltConfig {
            url: "http://salt".into(),
            username: "u".into(),
            password: pw,
            eauth: "pam".into(),
            verify_tls: true,
            timeout: std::time::Duration::from_secs(1),
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
        assert!(!format!("{:?}", SecretsCipher::new(K)).contains(K));
    }
}
