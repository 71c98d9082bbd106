//! Password policy and hashing. Argon2id with OWASP's minimum parameters (19 MiB, two passes,
//! one lane), always off the async runtime. Verification for an unknown account runs against a
//! dummy hash with the same parameters, so both failures take the same time.
//!
//! `common-passwords.txt` holds the entries of 8 characters or more from Django's list of the
//! 20,000 most common passwords (BSD-3-Clause, © Django Software Foundation; itself derived
//! from Royce Williams' list). Shorter ones are refused by the length rule anyway.

use std::collections::HashSet;
use std::sync::LazyLock;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::error::{AccountError, AccountResult};

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// OWASP Password Storage Cheat Sheet, Argon2id minimum: m=19 MiB, t=2, p=1.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("the OWASP parameters are valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password with the current parameters: what an unknown account's login is
/// checked against. Computed once per process.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(ulid::Ulid::new().to_string().as_bytes(), &salt)
        .expect("hashing a random password")
        .to_string()
});

/// Refuses passwords that are too short, too long, common, or the account's own email.
/// `field` names the password in the request (`password`, `new_password`).
pub fn check_policy(password: &str, email: &str, field: &str) -> AccountResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::invalid(
            field,
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(AccountError::invalid(
            field,
            "is one of the most common passwords; choose another",
        ));
    }
    let local = email.split('@').next().unwrap_or("");
    if lower == email || (local.len() >= MIN_PASSWORD_CHARS && lower == local) {
        return Err(AccountError::invalid(
            field,
            "must not be your email address",
        ));
    }
    Ok(())
}

/// Hashes a password (PHC string) on a blocking thread.
pub async fn hash(password: String) -> AccountResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
    .context("the hashing task failed")?
    .map_err(AccountError::from)
}

/// Checks a password against a stored hash on a blocking thread; with no stored hash (unknown
/// account) it checks against the dummy hash, which always fails, in the same time.
pub async fn verify(password: String, stored: Option<String>) -> AccountResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| anyhow::anyhow!("a stored password hash is malformed: {e}"))?;
        let ok = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok::<_, anyhow::Error>(ok && known)
    })
    .await
    .context("the verification task failed")?
    .map_err(AccountError::from)
}

/// Computes the dummy hash now, so the first unknown-account login of a process is not slower
/// than a wrong password.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_email_passwords_are_refused_naming_the_field() {
        let err = check_policy("short", "a@b.co", "password").unwrap_err();
        assert!(matches!(&err, AccountError::Invalid { field, .. } if field == "password"));
        for common in ["password1", "Password123", "qwertyuiop", "iloveyou"] {
            assert!(
                check_policy(common, "a@b.co", "new_password").is_err(),
                "{common} is common"
            );
        }
        assert!(check_policy("alice.smith@example.com", "alice.smith@example.com", "p").is_err());
        assert!(check_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1), "a@b.co", "p").is_err());
        check_policy("correct horse battery staple", "a@b.co", "password").unwrap();
    }

    #[test]
    fn the_list_is_loaded() {
        assert!(COMMON.len() > 8000, "{}", COMMON.len());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_uses_argon2id_with_owasp_parameters() {
        let phc = hash("tr0ub4dor&3-horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("tr0ub4dor&3-horse".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("tr0ub4dor&3-horsE".into(), Some(phc)).await.unwrap());
        // Unknown account: never verifies, whatever the password.
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
