//! Random bodies, headers and proofs against every route: no answer is a 5xx, nothing
//! panics, and the server still answers afterwards.

mod common;

use common::*;
use prelude_emulator::{Config, Faults};
use proptest::prelude::*;
use serde_json::{Value, json};

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/session/otp"),
    ("POST", "/v1/session/otp/retry"),
    ("POST", "/v1/session/otp/check"),
    ("POST", "/v1/session/login/finalize"),
    ("POST", "/v1/session/login/otp"),
    ("POST", "/v1/session/login/otp/retry"),
    ("POST", "/v1/session/login/otp/check"),
    ("POST", "/v1/session/refresh"),
    ("POST", "/v1/session/revoke"),
    ("POST", "/v1/session/stepup/request"),
    ("POST", "/v1/session/stepup/continue"),
    ("GET", "/v1/session/me/list"),
    ("POST", "/v1/session/me/revoke"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/step-up-jwks.json"),
    ("POST", "/v2/session/apps/demo/config/stepup"),
    ("PUT", "/v2/session/apps/demo/config/stepup"),
    ("GET", "/v2/session/apps/demo/config/stepup"),
    ("POST", "/v2/session/apps/demo/config/scopes"),
    ("DELETE", "/v2/session/apps/demo/config/scopes"),
    ("POST", "/v2/session/apps/demo/config/login/otp"),
    ("GET", "/emulator/v1/outbox"),
    ("PUT", "/emulator/v1/faults"),
    ("PUT", "/emulator/v1/clock"),
    ("POST", "/emulator/v1/users"),
    ("GET", "/emulator/v1/stats"),
    ("POST", "/v1/session/no/such/route"),
    ("GET", "/web/index.html"),
    ("GET", "/web/../../etc/passwd"),
    ("GET", "/web/missing.js"),
];

const FIELDS: &[&str] = &[
    "identifier",
    "type",
    "value",
    "code",
    "challenge_token",
    "scope",
    "metadata",
    "verification_token",
    "offset_secs",
    "clock_skew_secs",
    "delay_ms",
    "fail_routes",
    "identifiers",
    "allowed_scopes",
    "step_keys",
    "jwks_url",
    "mode",
    "direct",
    "status",
    "granted_for",
    "grant_mode",
    "steps",
    "config_type",
    "channel_type",
    "login_config_id",
    "step_up_token",
    "phone_number",
    "email_address",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,40}".prop_map(Value::from),
        prop::sample::select(FIELDS).prop_map(Value::from),
        Just(Value::from("+33612345678")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(FIELDS).prop_map(String::from),
                        "[a-z_]{1,12}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    body: Option<Value>,
    raw_body: Option<Vec<u8>>,
    proof: Option<(Value, bool)>,
    dpop_text: Option<String>,
    bearer: Option<String>,
    refresh: Option<String>,
    verification: Option<String>,
    host: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ROUTES.len(),
        prop::option::of(json_value()),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        prop::option::of((json_value(), any::<bool>())),
        prop::option::of("[ -~]{0,80}"),
        prop::option::of("[ -~]{0,60}"),
        prop::option::of("[ -~]{0,40}"),
        prop::option::of("[ -~]{0,40}"),
        prop::option::of(prop_oneof![
            Just("evil.example".to_owned()),
            "[a-z.:0-9]{0,20}"
        ]),
    )
        .prop_map(
            |(route, body, raw_body, proof, dpop_text, bearer, refresh, verification, host)| Case {
                route,
                body,
                raw_body,
                proof,
                dpop_text,
                bearer,
                refresh,
                verification,
                host,
            },
        )
}

#[test]
fn no_request_gets_a_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let web = std::env::temp_dir().join(format!("emu-any-{}", std::process::id()));
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "<p>page</p>").unwrap();
    let t = rt.block_on(T::with(Config {
        resend_cooldown_secs: 0,
        web_root: Some(web.clone()),
        ..Config::default()
    }));
    let key = Key::new(9);
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(c in case())| {
        let (method, path) = ROUTES[c.route];
        let url = t.url(path);
        let status = rt.block_on(async {
            let mut r = t.http.request(method.parse().unwrap(), &url);
            if let Some(raw) = &c.raw_body {
                r = r.body(raw.clone());
            } else if let Some(b) = &c.body {
                r = r.json(b);
            }
            if let Some((claims, real_htu)) = &c.proof {
                let mut claims = claims.clone();
                if *real_htu && claims.is_object() {
                    claims["htu"] = Value::from(url.clone());
                    claims["htm"] = Value::from(method);
                }
                let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()});
                r = r.header("dpop", key.sign_parts(&header, &claims));
            } else if let Some(d) = &c.dpop_text {
                r = r.header("dpop", d.as_str());
            }
            if let Some(b) = &c.bearer {
                r = r.header("authorization", format!("Bearer {b}"));
            }
            if let Some(v) = &c.refresh {
                r = r.header("x-refresh-token", v.as_str());
            }
            if let Some(v) = &c.verification {
                r = r.header("x-verification-token", v.as_str());
            }
            if let Some(h) = &c.host {
                r = r.header("host", h.as_str());
            }
            match r.send().await {
                Ok(resp) => Some(resp.status()),
                // reqwest refuses some header values itself; nothing reached the server.
                Err(e) if e.is_builder() => None,
                Err(e) => panic!("the server dropped the connection: {e}"),
            }
        });
        if let Some(s) = status {
            prop_assert!(!s.is_server_error(), "{method} {path} answered {s} to {c:?}");
        }
        // A random body may have set a slow or failing switch; start each case clean.
        t.emu.state().set_faults(Faults::default());
    });
    let alive = rt.block_on(async {
        t.http
            .get(t.url("/.well-known/jwks.json"))
            .send()
            .await
            .map(|r| r.status())
    });
    assert_eq!(alive.unwrap(), reqwest::StatusCode::OK);
    let page = rt.block_on(async { t.http.get(t.url("/web/index.html")).send().await.unwrap() });
    assert_eq!(
        page.status(),
        reqwest::StatusCode::OK,
        "the web root is served"
    );
    let _ = std::fs::remove_dir_all(web);
}
