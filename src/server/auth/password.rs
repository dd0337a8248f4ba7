//! Password hashing with Argon2id (run on the blocking pool: it is deliberately slow).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hash a password (blocking; call through [`hash_async`] from async code).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default params cannot fail")
        .to_string()
}

/// Verify a password against a stored PHC hash (blocking).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// How long a request waits for an Argon2 slot before it is told to come back.
const ARGON2_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Argon2 work is bounded to one job per core: a burst of sign-ins queues briefly instead of
/// starving every other request of CPU and memory (each check holds ~19 MiB).
fn argon2_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(1, 8))
    })
}

/// Every Argon2 slot stayed busy for [`ARGON2_WAIT`]: the caller answers 429 with Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl From<Busy> for crate::error::AppError {
    fn from(_: Busy) -> Self {
        crate::error::AppError::TooManyRequests {
            message: "The server is busy checking other passwords. Try again in a few seconds."
                .into(),
            retry_after_secs: 5,
        }
    }
}

async fn with_slot<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    with_slot_in(argon2_slots(), ARGON2_WAIT, f).await
}

async fn with_slot_in<T: Send + 'static>(
    slots: &tokio::sync::Semaphore,
    wait: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    let _permit = tokio::time::timeout(wait, slots.acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    tokio::task::spawn_blocking(f).await.map_err(|_| Busy)
}

/// [`hash`] on the blocking pool, within the Argon2 bound.
pub async fn hash_async(password: String) -> Result<String, Busy> {
    with_slot(move || hash(&password)).await
}

/// [`verify`] on the blocking pool, within the Argon2 bound.
pub async fn verify_async(password: String, stored: String) -> Result<bool, Busy> {
    with_slot(move || verify(&password, &stored)).await
}

/// A hash of a random password, verified against when the user does not exist so that
/// unknown users take as long as known ones.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("dummy-password-for-timing-equalisation"))
}

/// Validate a new password: 8 to 1024 characters.
pub fn validate_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        return Err("The new password must be at least 8 characters long.".into());
    }
    if n > 1024 {
        return Err("The new password must be at most 1024 characters long.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_work_is_bounded_and_excess_is_told_to_retry() {
        let slots = tokio::sync::Semaphore::new(1);
        let wait = std::time::Duration::from_millis(200);
        let held = slots.acquire().await.unwrap();
        let r = with_slot_in(&slots, wait, || 1).await;
        assert_eq!(r, Err(Busy), "a full pool answers Busy after the wait");
        let e: crate::error::AppError = Busy.into();
        assert_eq!(e.status(), 429);
        drop(held);
        assert_eq!(with_slot_in(&slots, wait, || 2).await, Ok(2));
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not-a-hash"));
    }

    #[test]
    fn new_password_rules() {
        assert!(validate_new("1234567").is_err());
        assert!(validate_new("12345678").is_ok());
        assert!(validate_new(&"x".repeat(1025)).is_err());
        assert!(validate_new(&"x".repeat(1024)).is_ok());
    }
}
