//! How the emulator reads the framing of a request: auth schemes and media types without
//! regard to case.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn auth_schemes_are_matched_without_regard_to_case() {
    let t = T::new().await;
    let key = Key::new(5);
    let (at, _) = t.login(&key).await;
    for scheme in ["Bearer", "BEARER", "bearer", "bEaReR"] {
        for sep in [" ", "  ", "\t"] {
            let r = t
                .http
                .get(t.htu("/me/list"))
                .header("authorization", format!("{scheme}{sep}{at}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{scheme:?}{sep:?}");
        }
    }
    // Another scheme, a scheme run into its token, or two headers: still refused.
    for bad in [
        format!("Basic {at}"),
        format!("Bearer{at}"),
        "Bearer ".into(),
    ] {
        let r = t
            .http
            .get(t.htu("/me/list"))
            .header("authorization", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    let r = t
        .http
        .get(t.htu("/me/list"))
        .header("authorization", format!("Bearer {at}"))
        .header("authorization", format!("Bearer {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "two Authorization headers"
    );

    // The management key, on the management API and the control plane.
    let mgmt = prelude_emulator::DEFAULT_MANAGEMENT_KEY;
    let r = t
        .http
        .get(t.url("/v2/session/apps/demo/config/stepup"))
        .header("authorization", format!("BEARER {mgmt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .header("authorization", format!("bearer {mgmt}"))
        .json(&json!({"identifiers": [{"type": "email_address", "value": "case@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_dpop_typ_is_a_media_type_matched_without_regard_to_case() {
    let t = T::new().await;
    let key = Key::new(6);
    let htu = t.htu("/login/finalize");
    for (typ, ok) in [
        ("DPoP+JWT", true),
        ("application/dpop+jwt", true),
        ("Application/DPOP+jwt", true),
        ("jwt", false),
        ("text/dpop+jwt", false),
    ] {
        let ct = t.challenge("+33612345678").await;
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": now()});
        let proof = key.sign_parts(
            &json!({"typ": typ, "alg": "ES256", "jwk": key.jwk()}),
            &claims,
        );
        let r = t
            .http
            .post(&htu)
            .header("dpop", proof)
            .json(&json!({"challenge_token": ct}))
            .send()
            .await
            .unwrap();
        if ok {
            assert_eq!(r.status(), StatusCode::OK, "{typ}");
        } else {
            assert_eq!(
                code_of(r).await,
                (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into()),
                "{typ}"
            );
        }
    }
}
