//! The demo seed and the scenario presets the app switches between.

use crate::state::*;

/// The demo setup: OTP login by SMS and email, and `transfer:write` behind a one-step review
/// (SMS for phone users, email for email-only users), granted to the session for 300 s; the
/// reserved scopes that add a phone number or an email address. Passkeys
/// (PASSKEYS.md §2.4–§2.5): the RP `localhost`, UV required, passkey sign-in on;
/// `prld:passkey:write` by a code, and `passkey:demo` by one `verify_passkey` step.
pub fn seed(d: &mut Data, now: i64) {
    for channel in [Channel::Sms, Channel::Email] {
        d.login_configs.push(LoginConfig {
            id: crate::util::prefixed_id("lcfg"),
            config_type: "otp".into(),
            channel_type: channel,
            is_default: channel == Channel::Sms,
            granted_scopes: vec![],
            created_at: now,
        });
    }
    add_user(
        d,
        vec![
            Identifier {
                kind: IdentifierType::PhoneNumber,
                value: DEMO_PHONE.into(),
            },
            Identifier {
                kind: IdentifierType::EmailAddress,
                value: DEMO_EMAIL.into(),
            },
        ],
        now,
    );
    d.scopes = vec![
        "transfer:write".into(),
        PASSKEY_WRITE.into(),
        PASSKEY_DEMO.into(),
    ];
    let mut rules = demo_rules(DemoScenario::ReviewSms);
    rules.extend(passkey_rules());
    d.stepup_config = Some(StepUpConfig {
        jwks_url: None,
        step_keys: vec![],
        allowed_scopes: [rules, registration_rules()].concat(),
        created_at: now,
        updated_at: now,
    });
    d.passkey_config = Some(demo_passkey_config(now));
    d.seed_revision = SEED_REVISION;
}

/// The demo seed's revision. 1 added the reserved scopes that add an email address or a
/// phone number, and passkeys: their configuration, `prld:passkey:write` and `passkey:demo`.
pub const SEED_REVISION: u32 = 1;

/// Brings a demo state saved by an older seed up to [`SEED_REVISION`], so an upgraded app's
/// demo offers what a new one does without a reset. Adds only what is missing: a rule for a
/// scope the state already has is kept as it is, and a state with no step-up configuration
/// (someone removed it) gets none. Returns what it added, for the log.
pub fn upgrade(d: &mut Data, now: i64) -> Vec<String> {
    let mut added = Vec::new();
    if d.seed_revision >= SEED_REVISION {
        return added;
    }
    d.seed_revision = SEED_REVISION;
    if let Some(cfg) = d.stepup_config.as_mut() {
        for rule in [passkey_rules(), registration_rules()].concat() {
            if !cfg.allowed_scopes.iter().any(|r| r.scope == rule.scope) {
                added.push(format!("the {} rule", rule.scope));
                cfg.allowed_scopes.push(rule);
                cfg.updated_at = now;
            }
        }
    }
    for scope in [PASSKEY_WRITE, PASSKEY_DEMO] {
        if !d.scopes.iter().any(|s| s == scope) {
            d.scopes.push(scope.into());
        }
    }
    if d.passkey_config.is_none() {
        d.passkey_config = Some(demo_passkey_config(now));
        added.push("the passkey configuration".into());
    }
    added
}

/// The demo's passkey configuration: the RP `localhost`, UV required, passkey sign-in on.
fn demo_passkey_config(now: i64) -> PasskeyConfig {
    PasskeyConfig {
        rp_id: "localhost".into(),
        rp_name: "Countersign (emulator)".into(),
        allowed_origins: vec!["https://localhost".into()],
        user_verification: UserVerification::Required,
        attestation_preference: AttestationPreference::None,
        login_enabled: true,
        granted_scopes: vec![],
        aaguid_allowlist: vec![],
        ios_app_ids: vec![],
        android_apps: vec![],
        created_at: now,
        updated_at: now,
    }
}

/// The reserved scope that registers a passkey (PASSKEYS.md §1.2).
pub const PASSKEY_WRITE: &str = "prld:passkey:write";
/// The demo scope passed by a passkey alone (PASSKEYS.md §2.4).
pub const PASSKEY_DEMO: &str = "passkey:demo";

/// `prld:passkey:write` by a code (SMS, or email for email-only users), session-bound for
/// 300 s; `passkey:demo` by one `verify_passkey` step, single-use for 60 s.
fn passkey_rules() -> Vec<ScopeRule> {
    use IdentifierType::*;
    let rule = |scope: &str, types: Vec<IdentifierType>, step: &str, mode, secs| ScopeRule {
        scope: scope.into(),
        mode: ScopeMode::Direct,
        delegated: None,
        direct: Some(DirectDecision {
            identifier_types: types,
            status: Decision::Review,
            granted_for: secs,
            grant_mode: mode,
            steps: vec![StepSpec {
                order: 1,
                key: step.into(),
                expiration_duration: 600,
            }],
        }),
    };
    vec![
        rule(
            PASSKEY_WRITE,
            vec![PhoneNumber],
            "verify_sms",
            GrantMode::SessionBound,
            300,
        ),
        rule(
            PASSKEY_WRITE,
            vec![EmailAddress],
            "verify_email",
            GrantMode::SessionBound,
            300,
        ),
        rule(
            PASSKEY_DEMO,
            vec![PhoneNumber, EmailAddress],
            "verify_passkey",
            GrantMode::SingleUse,
            60,
        ),
    ]
}

pub fn add_user(d: &mut Data, identifiers: Vec<Identifier>, now: i64) -> String {
    let user = User {
        id: crate::util::prefixed_id("usr"),
        identifiers,
        created_at: now,
        grants: vec![],
    };
    let id = user.id.clone();
    d.users.insert(id.clone(), user);
    id
}

/// The demo user has a phone and an email, so every scenario (email then SMS too) works.
pub const DEMO_PHONE: &str = "+33612345678";
pub const DEMO_EMAIL: &str = "ada@example.com";

/// Decisions the app's scenario presets switch between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoScenario {
    /// review → verify_sms (verify_email for users without a phone).
    ReviewSms,
    /// review → verify_email → verify_sms.
    EmailThenSms,
    /// block.
    Blocked,
    /// continue: granted at once.
    Granted,
    /// review → verify_email → confirm_in_app: a code, then a check the customer's own app
    /// makes (a custom step, passed with a verification token its backend signs).
    EmailThenApp,
    /// verify_passkey: approved with a passkey on this computer, no code.
    Passkey,
}

impl DemoScenario {
    pub const ALL: [DemoScenario; 6] = [
        DemoScenario::ReviewSms,
        DemoScenario::EmailThenSms,
        DemoScenario::EmailThenApp,
        DemoScenario::Blocked,
        DemoScenario::Granted,
        DemoScenario::Passkey,
    ];

    /// The name the app's picker uses.
    pub fn name(self) -> &'static str {
        match self {
            DemoScenario::ReviewSms => "review_sms",
            DemoScenario::EmailThenSms => "email_then_sms",
            DemoScenario::EmailThenApp => "email_then_app",
            DemoScenario::Blocked => "blocked",
            DemoScenario::Granted => "granted",
            DemoScenario::Passkey => "passkey",
        }
    }
}

/// The custom step of [`DemoScenario::EmailThenApp`].
pub const APP_STEP: &str = "confirm_in_app";

pub fn demo_rules(s: DemoScenario) -> Vec<ScopeRule> {
    let rule = |types: Vec<IdentifierType>, status: Decision, steps: Vec<&str>| ScopeRule {
        scope: "transfer:write".into(),
        mode: ScopeMode::Direct,
        delegated: None,
        direct: Some(DirectDecision {
            identifier_types: types,
            status,
            granted_for: 300,
            grant_mode: GrantMode::SessionBound,
            steps: steps
                .into_iter()
                .enumerate()
                .map(|(i, k)| StepSpec {
                    order: i as u32 + 1,
                    key: k.into(),
                    expiration_duration: 600,
                })
                .collect(),
        }),
    };
    use IdentifierType::*;
    match s {
        DemoScenario::ReviewSms => vec![
            rule(vec![PhoneNumber], Decision::Review, vec!["verify_sms"]),
            rule(vec![EmailAddress], Decision::Review, vec!["verify_email"]),
        ],
        DemoScenario::EmailThenSms => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Review,
            vec!["verify_email", "verify_sms"],
        )],
        DemoScenario::Blocked => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Block,
            vec![],
        )],
        DemoScenario::Granted => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Continue,
            vec![],
        )],
        DemoScenario::EmailThenApp => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Review,
            vec!["verify_email", APP_STEP],
        )],
        DemoScenario::Passkey => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Review,
            vec!["verify_passkey"],
        )],
    }
}

/// The reserved scopes that let a signed-in user add a phone number or an email address
/// (docs/protocol.md, "Registering an identifier"), declared `managed` as Prelude asks.
pub fn registration_rules() -> Vec<ScopeRule> {
    [
        prelude_wire::PHONE_REGISTER_SCOPE,
        prelude_wire::EMAIL_REGISTER_SCOPE,
    ]
    .into_iter()
    .map(|scope| ScopeRule {
        scope: scope.into(),
        mode: ScopeMode::Managed,
        delegated: None,
        direct: None,
    })
    .collect()
}

/// Puts `scenario`'s rules for `transfer:write` in place of the current ones.
pub fn apply_scenario(d: &mut Data, scenario: DemoScenario, now: i64) {
    let cfg = d.stepup_config.get_or_insert_with(|| StepUpConfig {
        created_at: now,
        ..Default::default()
    });
    cfg.allowed_scopes.retain(|r| r.scope != "transfer:write");
    cfg.allowed_scopes.extend(demo_rules(scenario));
    cfg.updated_at = now;
    if !d.scopes.iter().any(|s| s == "transfer:write") {
        d.scopes.push("transfer:write".into());
    }
}
