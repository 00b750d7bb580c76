//! Small helpers shared by the emulator's modules.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// `n` bytes from the OS generator, base64url encoded.
pub fn random_token(n: usize) -> String {
    b64(random_bytes(n))
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The OS generator failing is not recoverable for a server that mints secrets.
    getrandom::fill(&mut buf).expect("OS random number generator unavailable");
    buf
}

/// A prefixed id like `usr_3f9c…`, in the style of the real service.
pub fn prefixed_id(prefix: &str) -> String {
    let raw = random_bytes(12);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// Six random digits, without modulo bias.
pub fn otp_code() -> String {
    loop {
        let b = random_bytes(4);
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        // 4_294_000_000 is the largest multiple of 1_000_000 below u32::MAX.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// What the server keeps of a refresh token: its SHA-256, so the state file holds no usable
/// refresh token. (It does hold signing seeds and pending codes, hence its 0600 mode.)
pub fn secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    b64(Sha256::digest(secret.as_bytes()))
}

/// Serde `deserialize_with` for a count of seconds (`granted_for`, `expiration_duration`),
/// read like a NumericDate; the caller checks the range.
pub use prelude_wire::time::de_whole_seconds as de_seconds;

/// The clock and RFC 3339 timestamps: the one helper of prelude-wire.
pub use prelude_wire::time::{rfc3339, unix_now};

/// The OS generator as the `rand_core` 0.10 RNG that the `rsa` crate asks for.
pub struct OsRng;

impl rsa::rand_core::TryRng for OsRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let b = random_bytes(4);
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let b = random_bytes(8);
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst).expect("OS random number generator unavailable");
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = otp_code();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
