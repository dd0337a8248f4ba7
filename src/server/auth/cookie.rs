//! The session cookie: a random session id plus its HMAC-SHA256 signature.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A fresh random session id (256 bits, URL-safe).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    b64().encode(bytes)
}

fn mac(secret: &str, sid: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(b"halite-session:");
    m.update(sid.as_bytes());
    m
}

/// `sid.signature`.
pub fn sign(secret: &str, sid: &str) -> String {
    let tag = mac(secret, sid).finalize().into_bytes();
    format!("{sid}.{}", b64().encode(tag))
}

/// The session id when the signature is valid (constant-time check).
pub fn verify(secret: &str, value: &str) -> Option<String> {
    let (sid, sig) = value.rsplit_once('.')?;
    if sid.is_empty() || sid.len() > 128 {
        return None;
    }
    let sig = b64().decode(sig).ok()?;
    mac(secret, sid).verify_slice(&sig).ok()?;
    Some(sid.to_string())
}

/// What the database stores for a session id: its SHA-256, so a leaked table holds no live ids.
pub fn storage_key(sid: &str) -> String {
    hex::encode(Sha256::digest(sid.as_bytes()))
}

/// Find a cookie's value in a `Cookie` header.
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The `Set-Cookie` header value for a session.
pub fn set_cookie_header(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` header value that removes the session cookie.
pub fn clear_cookie_header(name: &str, secure: bool) -> String {
    set_cookie_header(name, "", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn sign_verify_and_tamper() {
        let sid = new_session_id();
        let v = sign(S, &sid);
        assert_eq!(verify(S, &v).as_deref(), Some(sid.as_str()));
        assert_eq!(verify("another-secret-another-secret-xx", &v), None);
        let mut tampered = v.clone();
        tampered.replace_range(0..1, if v.starts_with('A') { "B" } else { "A" });
        assert_eq!(verify(S, &tampered), None);
        assert_eq!(verify(S, "nodot"), None);
        assert_eq!(verify(S, ".sig"), None);
        assert_ne!(new_session_id(), new_session_id());
    }

    #[test]
    fn cookie_parsing_and_flags() {
        assert_eq!(
            find_cookie("a=1; halite_session=xyz; b=2", "halite_session"),
            Some("xyz")
        );
        assert_eq!(find_cookie("a=1", "halite_session"), None);
        let h = set_cookie_header("n", "v", 60, true);
        assert!(h.contains("HttpOnly") && h.contains("SameSite=Lax") && h.contains("Secure"));
        assert!(!set_cookie_header("n", "v", 60, false).contains("Secure"));
        assert_ne!(storage_key("abc"), "abc");
    }
}
