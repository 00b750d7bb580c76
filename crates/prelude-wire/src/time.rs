//! JWT NumericDate (RFC 7519 §2): seconds since the Unix epoch, which may carry a fraction.

use serde_json::Value;

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
