//! One command per user action. Each locks the backend, does one thing and answers with the
//! whole view, so the UI only renders. Arguments are never logged (codes pass through here).

use crate::AppState;
use crate::backend::Backend;
use crate::backend::identifiers::IdentifiersView;
use crate::error::{AppError, AppResult};
use crate::server::Server;
use crate::session::Approval;
use crate::view::{AppView, AuditView, IdentifierCheck, MutedView, ServerSettingsView, SessionRow};
use std::collections::BTreeMap;
use tauri::State;

type St<'a> = State<'a, AppState>;

pub mod demo;
pub mod desktop;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn app_state(state: St<'_>) -> AppResult<AppView> {
    // While locked, the locked view.
    let mut b = state.backend_while_locked().await?.lock().await;
    b.resume().await;
    Ok(state.settled(&b))
}

/// Milliseconds since the page's navigation started, as the page measured them, and when it
/// started: milliseconds since the Unix epoch (`performance.timeOrigin`, High Resolution Time
/// §4.2), which splits the time before the page from the time after its frame.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMarks {
    script_at: u32,
    view_at: u32,
    paint_at: u32,
    navigation_start: Option<f64>,
}

impl PageMarks {
    /// The navigation's start, when the page gave a usable one (a finite time after 1970).
    fn origin(&self) -> Option<f64> {
        self.navigation_start.filter(|t| t.is_finite() && *t > 0.0)
    }
}

/// The UI calls this once its first screen is interactive; the time is logged (and read by the
/// startup benchmark).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn ui_ready(page: Option<PageMarks>) {
    crate::first_frame::drawn();
    let ms = crate::started().map_or(0, |s| s.elapsed().as_millis());
    match page {
        Some(p) => tracing::info!(
            page_script_ms = p.script_at,
            page_view_ms = p.view_at,
            page_paint_ms = p.paint_at,
            page_origin_ms = p.origin(),
            "ui ready after {ms} ms"
        ),
        None => tracing::info!("ui ready after {ms} ms"),
    }
}

/// Live feedback while the identifier is typed, by the same rules the login applies.
#[tauri::command]
pub fn check_identifier(text: String) -> IdentifierCheck {
    let t = text.trim();
    if t.is_empty() {
        return IdentifierCheck {
            state: "",
            message: prelude_wire::IDENTIFIER_HINT.to_owned(),
        };
    }
    match prelude_session::Identifier::parse(t) {
        Ok(id) => IdentifierCheck {
            state: "good",
            message: match id.kind {
                prelude_session::IdentifierKind::PhoneNumber => "We’ll text you a code.",
                prelude_session::IdentifierKind::EmailAddress => "We’ll email you a code.",
            }
            .to_owned(),
        },
        Err(e) => IdentifierCheck {
            state: "bad",
            message: sentence(&AppError::from(e).to_string()),
        },
    }
}

fn sentence(s: &str) -> String {
    let s = s.strip_prefix("invalid input: ").unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

/// The code in pasted text (the first run of 4 to 8 digits), or nothing.
#[tauri::command]
pub fn read_code(text: String) -> Option<String> {
    prelude_wire::find_code(&text)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn start_login(state: St<'_>, identifier: String) -> AppResult<AppView> {
    state
        .act(async |b| {
            let id = b.start_login(&identifier).await?;
            state.settings.set_last_identifier(&id.value)
        })
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_login_code(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.resend_login_code().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_login_code(state: St<'_>, code: String) -> AppResult<AppView> {
    state.act(async |b| b.verify_login_code(&code).await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn change_identifier(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.change_identifier()).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn logout(state: St<'_>) -> AppResult<AppView> {
    state
        .act(async |b| {
            if let Err(e) = b.logout().await {
                // The local wipe happened; only the server call failed. Stay signed out.
                tracing::warn!(error = %e, "sign-out could not reach the server");
            }
            Ok(())
        })
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(scope = %scope))]
pub async fn request_step_up(
    state: St<'_>,
    scope: String,
    metadata: BTreeMap<String, String>,
) -> AppResult<AppView> {
    let metadata: BTreeMap<String, String> = metadata
        .into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    check_transfer(&metadata)?;
    state
        .act(async |b| b.request_step_up(Approval { scope, metadata }).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_step_up_code(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.resend_step_up_code().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_step_up_code(state: St<'_>, code: String) -> AppResult<AppView> {
    state
        .act(async |b| b.verify_step_up_code(&code).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn complete_custom_step(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.complete_custom_step().await).await
}

/// What the transfer form must hold before anything is asked: an amount above zero with at
/// most two decimals, a currency of three letters, and a payee; each value as the wire allows.
fn check_transfer(m: &BTreeMap<String, String>) -> AppResult<()> {
    let bad = |field: &'static str, why: &str| {
        Err(AppError::InvalidField {
            field,
            why: why.to_owned(),
        })
    };
    if let Some(amount) = m.get("amount") {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (units, cents) = match amount.split_once('.') {
            Some((u, c)) => (u, Some(c)),
            None => (amount.as_str(), None),
        };
        let value: f64 = amount.parse().unwrap_or(0.0);
        let cents_ok = cents.is_none_or(|c| digits(c) && c.len() <= 2);
        if !digits(units) || !cents_ok || value <= 0.0 {
            return bad("amount", "enter an amount above 0, like 500 or 49.90");
        }
    }
    if let Some(c) = m.get("currency")
        && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return bad("currency", "choose a currency");
    }
    if m.get("payee").is_some_and(|p| p.is_empty()) {
        return bad("payee", "enter who receives the transfer");
    }
    if m.values().any(String::is_empty) {
        return Err(AppError::InvalidInput(
            "fill in every field of the transfer".into(),
        ));
    }
    prelude_wire::check_metadata(m).map_err(|e| AppError::InvalidInput(e.message))?;
    prelude_wire::text::check_metadata_shown(m).map_err(|e| AppError::InvalidInput(e.message))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn deny_step_up(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.deny_step_up()).await
}

/// The person agrees to consider the request another program (or a link) made, `id` being
/// the one on their screen: its step-up starts, unless that request is gone meanwhile.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn approve_request(state: St<'_>, id: String) -> AppResult<AppView> {
    state.act(async |b| b.approve_request(&id).await).await
}

/// The person refuses the request `id` on their screen; `report` marks it as suspicious in the
/// audit log.
#[tauri::command]
#[tracing::instrument(skip_all, fields(report))]
pub async fn deny_request(state: St<'_>, id: String, report: bool) -> AppResult<AppView> {
    state.act(async |b| b.deny_request(&id, report)).await
}

/// The programs muted after a report, for Settings.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn muted_programs(state: St<'_>) -> AppResult<Vec<MutedView>> {
    state
        .look(async |b| {
            Ok(b.approvals()
                .muted_programs()
                .into_iter()
                .map(|(k, until_ms)| MutedView {
                    program: match k.script {
                        Some(s) => format!("{}, running {s} by its own account", k.executable),
                        None => k.executable,
                    },
                    until: prelude_wire::time::rfc3339(until_ms / 1000),
                })
                .collect())
        })
        .await
}

/// Settings' "Unmute": every program muted after a report may ask again.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn unmute_programs(state: St<'_>) -> AppResult<AppView> {
    state
        .act(async |b| {
            b.unmute_programs();
            Ok(())
        })
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn finish_step_up(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.finish_step_up()).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn list_sessions(state: St<'_>) -> AppResult<Vec<SessionRow>> {
    state.look(async |b| b.list_sessions().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn revoke_sessions(
    state: St<'_>,
    target: String,
    session_id: Option<String>,
) -> AppResult<AppView> {
    state
        .act(async |b| b.revoke_sessions(&target, session_id).await)
        .await
}

/// The account's addresses, and the one being added (docs/protocol.md, "Registering an
/// identifier"). Codes pass through these arguments: never logged.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn list_identifiers(state: St<'_>) -> AppResult<IdentifiersView> {
    state.look(async |b| b.identifiers()).await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn add_identifier(
    state: St<'_>,
    kind: String,
    value: String,
    anyway: Option<bool>,
) -> AppResult<IdentifiersView> {
    state
        .look(async |b| b.add_identifier(&kind, &value, anyway == Some(true)).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_identifier_code(state: St<'_>) -> AppResult<IdentifiersView> {
    state.look(async |b| b.resend_identifier_code().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_identifier_code(state: St<'_>, code: String) -> AppResult<IdentifiersView> {
    state
        .look(async |b| b.verify_identifier_code(&code).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn cancel_identifier(state: St<'_>) -> AppResult<IdentifiersView> {
    state.look(async |b| b.cancel_identifier()).await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(theme = %theme))]
pub async fn set_theme(state: St<'_>, theme: String) -> AppResult<AppView> {
    if !matches!(theme.as_str(), "system" | "light" | "dark") {
        return Err(AppError::InvalidInput(
            "theme is system, light or dark".into(),
        ));
    }
    state.settings.set_theme(&theme)?;
    // A look, not a step of the flow: what the last action said (a report's offer) stays.
    state.look(async |b| Ok(state.settled(b))).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn server_settings(state: St<'_>) -> AppResult<ServerSettingsView> {
    state
        .look(async |b| {
            Ok(ServerSettingsView {
                kind: b.server().kind(),
                value: b.server().value().to_owned(),
                overridden: state.overridden,
                emulator_key: b.emulator_key_source(),
            })
        })
        .await
}

/// Keeps a standalone emulator's management key in the keyring (an empty or absent key
/// forgets it), and sends it from now on. The key comes in once and never goes back.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn set_emulator_key(
    app: tauri::AppHandle,
    state: St<'_>,
    key: Option<String>,
) -> AppResult<ServerSettingsView> {
    use secrecy::ExposeSecret as _;
    // Held as a secret, so the copy the webview sent is wiped when dropped.
    let key: Option<secrecy::SecretString> = key.map(Into::into);
    state
        .look(async |b| {
            b.set_emulator_key(key.as_ref().map(|k| k.expose_secret()))
                .await?;
            state.restart_inbox(&app, b);
            Ok(())
        })
        .await?;
    server_settings(state).await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn test_connection(kind: String, value: String) -> AppResult<String> {
    let server = Server::parse(&kind, &value)?;
    crate::http::test_connection(&server).await
}

/// Signs out of the current server, then connects to the new one and saves the choice.
#[tauri::command]
#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn switch_server(
    app: tauri::AppHandle,
    state: St<'_>,
    kind: String,
    value: String,
) -> AppResult<AppView> {
    if state.overridden {
        return Err(AppError::InvalidInput(
            "the server is set on the command line or in the environment for this run".into(),
        ));
    }
    let server = Server::parse(&kind, &value)?;
    let old = state
        .look(async |b| {
            if *b.server() == server {
                return Ok(None);
            }
            let next =
                Backend::connect(server.clone(), &state.profile, state.data_dir.clone(), None)
                    .await?;
            if let Err(e) = b.logout().await {
                tracing::warn!(error = %e, "sign-out from the previous server failed");
            }
            let old = std::mem::replace(b, next);
            state.restart_inbox(&app, b);
            Ok(Some(old))
        })
        .await?;
    // The old server stops with the lock released: a client stuck on it cannot freeze the
    // app's commands while it waits.
    if let Some(old) = old {
        old.shutdown().await;
    }
    state.settings.set_server(&server)?;
    state
        .look(async |b| {
            b.resume().await;
            Ok(state.settled(b))
        })
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn audit_log(state: St<'_>) -> AppResult<AuditView> {
    state
        .look(async |b| {
            let Some(log) = b.audit() else {
                return Ok(AuditView::default());
            };
            let (entries, unreadable) =
                log.read(200).map_err(|e| AppError::Audit(e.to_string()))?;
            Ok(AuditView {
                entries,
                unreadable,
                path: Some(log.path().display().to_string()),
            })
        })
        .await
}

/// Saves the approval history where the person picks, as readable JSON or CSV (by the name's
/// extension); where it went, or `None` when they cancelled.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn export_audit_log(app: tauri::AppHandle, state: St<'_>) -> AppResult<Option<String>> {
    let stamp = prelude_wire::time::rfc3339(prelude_wire::time::unix_now()).replace(':', "-");
    let name = format!("countersign-approvals-{stamp}.json");
    let Some(path) = crate::files::pick_save(
        &app,
        &name,
        "Approval history (JSON or CSV)",
        &["json", "csv"],
    )
    .await
    else {
        return Ok(None);
    };
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (text, _) = state
        .look(async |b| {
            let log = b
                .audit()
                .ok_or_else(|| AppError::Audit("no data folder for the log".into()))?;
            log.export(csv).map_err(|e| AppError::Audit(e.to_string()))
        })
        .await?;
    crate::files::write_private(&path, text.as_bytes())?;
    Ok(Some(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(amount: &str, currency: &str, payee: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("amount".to_owned(), amount.to_owned()),
            ("currency".to_owned(), currency.to_owned()),
            ("payee".to_owned(), payee.to_owned()),
        ])
    }

    #[test]
    fn a_transfer_is_checked_before_anything_is_asked() {
        for ok in ["500", "49.90", "0.5", "1000000"] {
            assert!(
                check_transfer(&transfer(ok, "EUR", "ACME Ltd")).is_ok(),
                "{ok}"
            );
        }
        for bad in ["", "-5", "abc", "0", "0.00", "1.234", "1e3", "12.", ".5"] {
            assert!(
                check_transfer(&transfer(bad, "EUR", "ACME Ltd")).is_err(),
                "{bad:?}"
            );
        }
        // Each refusal names its field, so the screen marks that one.
        let field = |m| match check_transfer(&m) {
            Err(AppError::InvalidField { field, .. }) => Some(field),
            _ => None,
        };
        assert_eq!(field(transfer("abc", "EUR", "ACME Ltd")), Some("amount"));
        assert_eq!(field(transfer("5", "eur", "ACME Ltd")), Some("currency"));
        assert_eq!(field(transfer("5", "EUR", "")), Some("payee"));
        assert!(
            check_transfer(&transfer("5", "EUR", &"x".repeat(33))).is_err(),
            "the wire's 32-character limit, not silently cut"
        );
    }

    #[test]
    fn the_page_marks_take_a_navigation_start_only_when_it_is_a_time() {
        let marks = |json: &str| serde_json::from_str::<PageMarks>(json).expect(json);
        let base = r#""scriptAt":20,"viewAt":24,"paintAt":45"#;
        assert_eq!(marks(&format!("{{{base}}}")).origin(), None);
        assert_eq!(
            marks(&format!(r#"{{{base},"navigationStart":1796076716340.5}}"#)).origin(),
            Some(1_796_076_716_340.5)
        );
        for bad in ["0", "-3"] {
            assert_eq!(
                marks(&format!(r#"{{{base},"navigationStart":{bad}}}"#)).origin(),
                None,
                "{bad}"
            );
        }
        assert!(
            serde_json::from_str::<PageMarks>(r#"{"scriptAt":-1,"viewAt":0,"paintAt":0}"#).is_err()
        );
    }
}
