//! Profile names: one app, one socket and one set of files per profile.

/// A profile name outside the rule: 1–40 ASCII letters, digits, `-` or `_`, since it becomes
/// part of file and socket names.
#[derive(Debug, thiserror::Error)]
#[error("profile {0:?} must be 1-40 letters, digits, - or _")]
pub struct BadProfile(pub String);

/// Checks a profile name.
///
/// # Errors
/// [`BadProfile`] naming the profile and the rule.
pub fn check(p: &str) -> Result<(), BadProfile> {
    if p.is_empty()
        || p.len() > 40
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(BadProfile(p.to_owned()));
    }
    Ok(())
}
