//! One writer at a time for the authenticator's keyring entries in this process.

use std::sync::Mutex;

/// Serialises every read-modify-write of the authenticator's keyring entries (the PIN's tries,
/// the keys and their sign counters) in this process. Without it, two PIN checks at once both
/// read the same tries and each spends only one between them, and two assertions at once sign
/// with the same counter. One process holds a profile (its lock file), so a process-wide lock
/// covers every writer.
pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A panic while holding it leaves nothing half-written that the next holder cannot read.
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
