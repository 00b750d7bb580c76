//! DPoP proofs as peers' bug reports tried them: fractional NumericDates, a foreign key on a
//! session route, another device's refresh token at finalize, and a replay cache that throwaway
//! keys must not fill.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A proof with these claims, signed by `key`.
fn proof_with(key: &Key, claims: Value) -> String {
    key.sign_parts(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &claims,
    )
}

#[tokio::test]
async fn a_fractional_iat_is_a_numeric_date() {
    let t = T::new().await;
    let key = Key::new(40);
    let (_, mut rt) = t.login(&key).await;
    let htu = t.htu("/refresh");
    let now = t.emu.now() as f64;
    for iat in [json!(now + 0.25), json!(now), json!(now - 0.75)] {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": iat});
        let r = t.refresh(&key, &rt, Some(proof_with(&key, claims))).await;
        assert_eq!(r.status(), StatusCode::OK, "iat {iat}");
        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
    // A fraction outside the window is still outside it, and a non-number is no date.
    for iat in [
        json!(now + 300.5),
        json!(now.to_string()),
        json!(null),
        json!(1e300),
    ] {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": iat});
        let r = t.refresh(&key, &rt, Some(proof_with(&key, claims))).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into()),
            "iat {iat}"
        );
    }
}
