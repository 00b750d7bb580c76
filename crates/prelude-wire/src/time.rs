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
}
