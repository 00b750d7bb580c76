//! Time on the wire: the local clock in Unix seconds, RFC 3339 timestamps, and JWT NumericDate
//! (RFC 7519 §2): seconds since the Unix epoch, which may carry a fraction.

use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// This computer's clock, in whole seconds since the Unix epoch (0 for a clock set before it).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds as an RFC 3339 UTC timestamp, `2099-01-01T00:00:00Z`; a time before the epoch
/// is written as the epoch.
pub fn rfc3339(unix: i64) -> String {
    let secs = unix.max(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's days-to-civil algorithm (public domain arithmetic).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z. Later values are no real date, and
/// the bound keeps every accepted value exactly representable and convertible to `i64`.
pub const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// Reads a claim as a NumericDate (RFC 7519 §2), in seconds since the Unix epoch.
///
/// Integers and fractions are both accepted (`1795974767`, `1795974767.25`, `1795974767.0`),
/// so compare the result as a number. `None` when the claim is absent, not a JSON number, not
/// finite, negative, or after [`MAX_NUMERIC_DATE`].
pub fn numeric_date(claim: &Value) -> Option<f64> {
    claim
        .as_f64()
        .filter(|t| t.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(t))
}

/// Reads a JSON number as whole seconds rounded toward the past: a NumericDate as an `i64`
/// (an `exp` read so ends at most a second early, never late), or a count of seconds
/// (`granted_for`, `expiration_duration`), which may carry a fraction like a NumericDate
/// (`300`, `300.0` and `3e2` are all 300). `None` for anything but a number within
/// ±[`MAX_NUMERIC_DATE`]; the caller checks the range it needs.
pub fn whole_seconds(v: &Value) -> Option<i64> {
    let bound = MAX_NUMERIC_DATE as i64;
    if let Some(i) = v.as_i64() {
        return (-bound..=bound).contains(&i).then_some(i);
    }
    v.as_f64()
        .map(f64::floor)
        // The bound keeps the cast exact; it also refuses a non-finite value.
        .filter(|f| f.abs() <= MAX_NUMERIC_DATE)
        .map(|f| f as i64)
}

/// Serde `deserialize_with` for a field that [`whole_seconds`] reads.
///
/// # Errors
/// Anything [`whole_seconds`] refuses.
pub fn de_whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = <Value as serde::Deserialize>::deserialize(d)?;
    whole_seconds(&v).ok_or_else(|| {
        serde::de::Error::custom("expected a number of seconds (a NumericDate, RFC 7519 §2)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(4_070_908_800), "2099-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_825_600), "2000-02-29T12:00:00Z");
        assert!(unix_now() > 1_700_000_000);
    }

    #[test]
    fn integers_and_fractions_are_dates() {
        assert_eq!(numeric_date(&json!(1_795_974_767)), Some(1_795_974_767.0));
        assert_eq!(
            numeric_date(&json!(1_795_974_767.25)),
            Some(1_795_974_767.25)
        );
        let parsed: Value = serde_json::from_str("1795974767.0").unwrap();
        assert_eq!(numeric_date(&parsed), Some(1_795_974_767.0));
        assert_eq!(numeric_date(&json!(0)), Some(0.0));
    }

    #[test]
    fn other_values_are_not() {
        for bad in [
            json!("1795974767"),
            json!(null),
            json!(true),
            json!([1]),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e300),
            json!(MAX_NUMERIC_DATE + 1.0),
        ] {
            assert_eq!(numeric_date(&bad), None, "{bad}");
        }
        assert_eq!(numeric_date(&Value::from(f64::NAN)), None);
        assert_eq!(numeric_date(&Value::from(f64::INFINITY)), None);
    }

    #[test]
    fn whole_seconds_round_toward_the_past() {
        assert_eq!(whole_seconds(&json!(1_795_974_767)), Some(1_795_974_767));
        assert_eq!(
            whole_seconds(&json!(1_795_974_767.999)),
            Some(1_795_974_767)
        );
        assert_eq!(whole_seconds(&json!(-1.5)), Some(-2));
        let three_hundred: Value = serde_json::from_str("3e2").unwrap();
        assert_eq!(whole_seconds(&three_hundred), Some(300));
        for bad in [
            json!("300"),
            json!(null),
            json!(u64::MAX),
            json!(-1e300),
            json!(MAX_NUMERIC_DATE + 1.0),
        ] {
            assert_eq!(whole_seconds(&bad), None, "{bad}");
        }
    }
}
