//! Small helpers: base64url, the local clock, JWT claims read without verification, and
//! NumericDate values.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The local clock, in Unix seconds: the one helper of prelude-wire.
pub(crate) use prelude_wire::time::unix_now;

/// Claims of a JWT, read without verifying it: the client never verifies tokens, the server
/// does (docs/protocol.md, "Choices").
pub(crate) fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = token.split('.').nth(1)?;
    match serde_json::from_slice(&unb64(payload)?).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The largest magnitude read as a NumericDate: 2^53 s, the whole seconds an IEEE double holds
/// exactly. Far beyond any real date, and no overflow when a skew is added.
/// Reads a JWT NumericDate (RFC 7519 §2), or another count of seconds in a token
/// (`granted_for`, a step's `expiration_duration`), as whole seconds rounded toward the past:
/// [`prelude_wire::time::whole_seconds`].
pub(crate) use prelude_wire::time::whole_seconds as numeric_date;

/// Serde `deserialize_with` for a required NumericDate field, as [`numeric_date`] reads it.
pub(crate) use prelude_wire::time::de_whole_seconds as de_numeric_date;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_dates_may_carry_a_fraction() {
        assert_eq!(numeric_date(&json!(1795974767)), Some(1795974767));
        assert_eq!(numeric_date(&json!(1795974767.25)), Some(1795974767));
        assert_eq!(numeric_date(&json!(1795974767.0)), Some(1795974767));
        assert_eq!(numeric_date(&json!(1795974767.999)), Some(1795974767));
        assert_eq!(numeric_date(&json!(-1.5)), Some(-2), "toward the past");
        let exp: serde_json::Value = serde_json::from_str("1.795974767e9").unwrap();
        assert_eq!(numeric_date(&exp), Some(1795974767));
        // Compared as numbers: 10.5 is after 10 and before 11.
        let (a, b, c) = (json!(10), json!(10.5), json!(11));
        let read = |v| numeric_date(v).unwrap();
        assert!(read(&a) <= read(&b) && read(&b) < read(&c));
    }

    #[test]
    fn what_is_not_a_numeric_date_is_refused() {
        for v in [
            json!("1795974767"),
            json!(null),
            json!(true),
            json!([1]),
            json!(u64::MAX),
            json!(1e300),
            json!(-1e300),
        ] {
            assert_eq!(numeric_date(&v), None, "{v}");
        }
    }
}
