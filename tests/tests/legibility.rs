//! Legibility in the real window: contrast from computed styles on every stage, both themes
//! (WCAG 2.2 SC 1.4.3 text ≥ 4.5:1, SC 1.4.11 field borders ≥ 3:1).

use countersign_e2e::{App, AppRef, Proc, Sandbox, TestResult, finish};
use std::time::Duration;
use thirtyfour::prelude::Key;

/// Measures, in the page, every drawn text and every field border in `root` (the open dialog,
/// else the whole page); returns `[checked, offenders]`. The colour under an element is the
/// stack of its ancestors' backgrounds, each group's opacity applied where it is drawn.
/// Hidden and zero-size elements and disabled controls are exempt (WCAG 1.4.3), except a
/// waiting countdown button (a deadline from the view, or marked waiting by its panel): its
/// text is the time left.
const MEASURE: &str = r#"
const root = document.querySelector('dialog[open]') || document.body;
function parse(c) {
  let m = c.match(/rgba?\(([^)]+)\)/);
  if (m) { const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
  m = c.match(/color\(srgb ([^)]+)\)/);
  if (m) { const p = m[1].split(/[ /]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
  return [0, 0, 0, 0];
}
function over(s, d) {
  const a = s[3] + d[3] * (1 - s[3]);
  if (a === 0) return [0, 0, 0, 0];
  return [0, 1, 2].map((i) => (s[i] * s[3] + d[i] * d[3] * (1 - s[3])) / a).concat([a]);
}
// The colour drawn where `top` (a colour on `el`) lands, from `el` up to the page.
function drawn(el, top) {
  let c = top;
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    c = over(c, parse(s.backgroundColor));
    const o = Number(s.opacity);
    if (o < 1) c = [c[0], c[1], c[2], c[3] * o];
    if (e.tagName === 'DIALOG') break;
  }
  return over(c, [255, 255, 255, 1]);
}
function lum(c) {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}
function ratio(a, b) {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
function shown(el) {
  // Content folded in a closed <details> has boxes in WebKit, but is not drawn.
  if (!el.getClientRects().length || !el.checkVisibility()) return false;
  const r = el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2) return false;
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    if (s.clip === 'rect(0px, 0px, 0px, 0px)' || e.classList.contains('visually-hidden') || e.classList.contains('sr-only')) return false;
  }
  return true;
}
function exempt(el) {
  const d = el.closest('button:disabled, input:disabled, select:disabled, fieldset:disabled');
  return d && !d.matches('[data-deadline-from], [data-waiting=true]');
}
function name(el) {
  const id = el.closest('[data-testid]')?.dataset.testid;
  const t = (el.value || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).trim().replace(/\s+/g, '.') : ''}${id ? '[' + id + ']' : ''} "${t}"`;
}
// WebKit's getComputedStyle does not resolve ::placeholder, so its colour is read from the
// page's last rule that applies to the field, resolved in the field's place; without one,
// WebKit draws it darkgray.
const placeholderRules = [...document.styleSheets].flatMap((s) => [...s.cssRules])
  .filter((r) => r.selectorText?.includes('::placeholder') && r.style.getPropertyValue('color'));
function placeholderColor(el) {
  const applies = (r) => r.selectorText.split(',').some((sel) =>
    sel.includes('::placeholder') && el.matches(sel.replace(/::placeholder/g, '').trim() || '*'));
  const probe = document.createElement('span');
  probe.style.color = placeholderRules.filter(applies).pop()?.style.getPropertyValue('color') || 'darkgray';
  el.parentElement.append(probe);
  const c = getComputedStyle(probe).color;
  probe.remove();
  return c;
}
const bad = [];
let checked = 0;
for (const el of root.querySelectorAll('*')) {
  if (['SCRIPT', 'STYLE', 'TEMPLATE', 'svg', 'path', 'OPTION'].includes(el.tagName)) continue;
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const field = el.matches('input:not([type=checkbox]):not([type=radio]):not([type=hidden]), select, textarea');
  if (!(own || (field && el.value)) && !field) continue;
  if (!shown(el) || exempt(el)) continue;
  const s = getComputedStyle(el);
  if (own || (field && el.value)) {
    checked++;
    const bg = drawn(el, [0, 0, 0, 0]);
    const r = ratio(drawn(el, parse(s.color)), bg);
    if (r < 4.5) bad.push(`${name(el)}: text ${r.toFixed(2)}:1 < 4.5`);
  }
  // An empty field's placeholder is text too (WCAG 1.4.3).
  if (field && !el.value && el.placeholder) {
    checked++;
    const bg = drawn(el, [0, 0, 0, 0]);
    const r = ratio(drawn(el, parse(placeholderColor(el))), bg);
    if (r < 4.5) bad.push(`${name(el)} placeholder "${el.placeholder}": text ${r.toFixed(2)}:1 < 4.5`);
  }
  if (field) {
    checked++;
    const around = drawn(el.parentElement, [0, 0, 0, 0]);
    const r = ratio(drawn(el.parentElement, parse(s.borderTopColor)), around);
    if (r < 3) bad.push(`${name(el)}: border ${r.toFixed(2)}:1 < 3`);
  }
}
return [checked, bad];
"#;

/// Moves the emulator's clock with the test bench's `button`, waits for the bench to say
/// `said`, and closes the bench.
async fn move_clock(app: &AppRef, button: &str, said: &str) -> TestResult {
    app.click("bench-open").await?;
    app.click(button).await?;
    app.wait_script(
        "return document.querySelector('[data-testid=bench-note]').textContent;",
        said,
        |v| v.as_str().unwrap_or_default().contains(said),
    )
    .await?;
    app.click("bench-close").await
}

async fn theme(app: &AppRef, want: &str) -> TestResult {
    for _ in 0..3 {
        let now = app
            .script("return document.getElementById('app').dataset.theme;")
            .await?;
        if now.as_str() == Some(want) {
            break;
        }
        // An open dialog is modal: the toggle behind it cannot be clicked; the lock has no
        // header. The theme is the root's attribute either way.
        let modal = app
            .script(
                "return Boolean(document.querySelector('dialog[open]')) \
                   || !document.querySelector('[data-testid=theme-toggle]').checkVisibility();",
            )
            .await?;
        if modal.as_bool() == Some(true) {
            app.script(&format!(
                "document.getElementById('app').dataset.theme = '{want}'; return true;"
            ))
            .await?;
        } else {
            // One step at a time: a click before the last one took would skip a theme.
            app.click("theme-toggle").await?;
            app.wait_script(
                "return document.getElementById('app').dataset.theme;",
                "the theme to change",
                |v| v.as_str() != now.as_str(),
            )
            .await?;
        }
    }
    app.wait_script(
        "return document.getElementById('app').dataset.theme;",
        &format!("the {want} theme"),
        |v| v.as_str() == Some(want),
    )
    .await?;
    // Buttons fade to their new colours in 150 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(())
}

/// Measures `label` in both themes at both window sizes, with a screenshot of each; the
/// offenders found, each with its ratio.
async fn measure(app: &AppRef, label: &str, bad: &mut Vec<String>) -> TestResult {
    for t in ["light", "dark"] {
        theme(app, t).await?;
        for (w, h) in [(1040, 760), (720, 560)] {
            app.resize(w, h).await?;
            app.shot(&format!("{label}-{w}x{h}-{t}")).await;
            let v = app.script(MEASURE).await?;
            let checked = v[0].as_u64().unwrap_or(0);
            assert!(
                checked >= 3,
                "{label} {t}: only {checked} elements measured"
            );
            for b in v[1].as_array().into_iter().flatten() {
                let line = format!("{label} {t}: {}", b.as_str().unwrap_or_default());
                if !bad.contains(&line) {
                    bad.push(line);
                }
            }
        }
    }
    app.resize(1040, 760).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_meets_wcag_contrast_in_both_themes() {
    let sandbox = Sandbox::new("legibility");
    let app = App::launch("legibility", &sandbox, None).await;
    app.run(move |app| async move {
        let mut bad = Vec::new();
        app.wait_stage("login").await?;
        // The header's buttons say what they are in words, the theme's names the one in force.
        let labels = app
            .script(
                "return ['bench-open', 'settings-open', 'theme-toggle'].map((id) => { \
                   const l = document.querySelector(`[data-testid=${id}] .btn-label`); \
                   return l && l.getClientRects().length ? l.textContent : ''; });",
            )
            .await?;
        let theme_now = app
            .script("return document.getElementById('app').dataset.theme;")
            .await?;
        let want_theme = match theme_now.as_str() {
            Some("light") => "Light",
            Some("dark") => "Dark",
            _ => "System",
        };
        assert_eq!(
            labels,
            serde_json::json!(["Test bench", "Settings", want_theme]),
            "header labels at 1040x760"
        );
        measure(&app, "signed-out", &mut bad).await?;
        // A hint marked bad.
        app.fill("identifier-input", "0612").await?;
        app.click("send-code").await?;
        app.wait_script(
            "return document.getElementById('identifier').getAttribute('aria-invalid');",
            "the field marked invalid",
            |v| v.as_str() == Some("true"),
        )
        .await?;
        measure(&app, "bad-identifier", &mut bad).await?;

        app.fill("identifier-input", "+33612345678").await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = app.inbox_code(1).await?;
        // "Send a new code in 0:30" is waiting.
        measure(&app, "code-entry", &mut bad).await?;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        // The used sign-in code is marked in the inbox.
        app.wait_script(
            "return document.querySelector('[data-testid=demo-inbox-message]')?.dataset.status;",
            "the sign-in code marked used",
            |v| v.as_str() == Some("used"),
        )
        .await?;
        app.click("sessions-toggle").await?;
        app.click("identifiers-toggle").await?;
        measure(&app, "signed-in", &mut bad).await?;
        // Adding an email address: its code field and the "Send a new code" countdown.
        app.click("identifier-add-email").await?;
        app.fill("identifier-value", "grace@example.com").await?;
        app.click("identifier-send").await?;
        app.el("identifier-code").await?;
        app.script("document.getElementById('identifier-code-form').scrollIntoView({ block: 'center' }); return true;")
            .await?;
        // The countdown reads as on the other code screens ("in 0:30").
        let resend = app.text("identifier-resend").await?;
        assert!(resend.starts_with("Send a new code in 0:"), "{resend:?}");
        measure(&app, "identifier-code", &mut bad).await?;
        app.click("identifier-cancel-code").await?;
        app.el("identifier-add-email").await?;

        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let step = app.inbox_code(3).await?;
        measure(&app, "step-up", &mut bad).await?;
        let wrong = if step == "000000" { "111111" } else { "000000" };
        app.fill("stepup-code-input", wrong).await?;
        app.click("verify-stepup").await?;
        app.wait_error("Wrong code.").await?;
        measure(&app, "wrong-code", &mut bad).await?;
        app.fill("stepup-code-input", &step).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        measure(&app, "granted", &mut bad).await?;
        // An hour on, the same screen says the approval has expired, in neutral colours.
        move_clock(&app, "clock-plus-1h", "moved 1 h forward").await?;
        app.wait_drawn("grant-expired", "the grant to end").await?;
        measure(&app, "grant-expired", &mut bad).await?;
        move_clock(&app, "clock-now", "back to real time").await?;
        app.click("back-to-account").await?;
        app.wait_stage("logged").await?;

        // A program's request with no details: marked broad, then denied.
        let cli = Proc::spawn(sandbox.countersign(&["approve", "--scope", "transfer:write"]));
        app.wait_stage("request").await?;
        app.wait_drawn("broad", "the broad mark").await?;
        measure(&app, "request-broad", &mut bad).await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");

        // A program's request, its note, its warning row, and its step-up with the report.
        let mut cli = Proc::spawn(sandbox.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--meta",
            "amount=12",
            "--meta",
            "currency=EUR",
            "--reason",
            "Pay invoice 2291",
        ]));
        app.wait_stage("request").await?;
        // Number matching is on: the three numbers wait for a pick, then the picked one.
        app.el("match-number").await?;
        measure(&app, "request", &mut bad).await?;
        app.pick_number(cli.match_number().await).await?;
        app.wait_script(
            "return document.querySelector('[data-testid=match-number][aria-pressed=true]') !== null;",
            "the number picked",
            |v| v.as_bool() == Some(true),
        )
        .await?;
        measure(&app, "request-matched", &mut bad).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        measure(&app, "request-step-up", &mut bad).await?;
        // Reported: why signing the other sessions out helps, and the offer to.
        app.click("deny-report").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        app.wait_stage("logged").await?;
        app.el("report-why").await?;
        measure(&app, "reported", &mut bad).await?;

        // The passkey's PIN setup on the account screen, then a passkey step with its PIN.
        app.wait_stage("logged").await?;
        let sent = app
            .script("return document.querySelectorAll('[data-testid=demo-inbox-message]').length;")
            .await?
            .as_u64()
            .unwrap_or(0) as usize;
        app.click("passkey-add").await?;
        app.wait_stage("step-up-otp").await?;
        let code = app.inbox_code(sent + 1).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("logged").await?;
        app.el("passkey-pin").await?;
        app.script("document.getElementById('passkey-setup').scrollIntoView({ block: 'center' }); return true;")
            .await?;
        measure(&app, "passkey-setup", &mut bad).await?;
        app.fill("passkey-pin", "482916").await?;
        app.fill("passkey-pin-confirm", "482916").await?;
        app.click("passkey-register").await?;
        app.wait_script(
            "return document.querySelectorAll('[data-testid=passkey-item]').length;",
            "this computer's passkey",
            |v| v.as_u64() == Some(1),
        )
        .await?;
        app.pick_scenario("passkey").await?;
        app.script("document.getElementById('passkey-list').scrollIntoView({ block: 'center' }); return true;")
            .await?;
        measure(&app, "passkey-listed", &mut bad).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        app.el("approve-passkey").await?;
        measure(&app, "passkey-step", &mut bad).await?;
        app.click("deny-request").await?;
        app.wait_stage("logged").await?;

        // The settings sheet holds the approval history with its outcome chips.
        app.click("settings-open").await?;
        app.wait_script(
            "return document.querySelectorAll('[data-testid=audit-entry]').length;",
            "the approval in the history",
            |v| v.as_u64().unwrap_or(0) >= 1,
        )
        .await?;
        // A PIN is set (the passkey above): its change form, not the "no PIN yet" line.
        let pin = app
            .script(
                "return [document.getElementById('pin-none').checkVisibility(), \
                   document.getElementById('pin-old').checkVisibility()];",
            )
            .await?;
        assert_eq!(pin, serde_json::json!([false, true]), "a PIN: its change form");
        measure(&app, "settings", &mut bad).await?;
        app.click("settings-close").await?;

        app.click("bench-open").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=bench-clock]').textContent;",
            "the bench's clock",
            |v| !v.as_str().unwrap_or_default().is_empty(),
        )
        .await?;
        // Its note says a switch took, in green; the header's clock badge follows.
        app.click("clock-plus-1m").await?;
        app.wait_script(
            "const n = document.querySelector('[data-testid=bench-note]'); \
             return n.className.includes('good') && n.textContent.includes('forward');",
            "the bench's note",
            |v| v.as_bool() == Some(true),
        )
        .await?;
        measure(&app, "bench", &mut bad).await?;
        app.click("bench-close").await?;
        app.el("emulated-clock").await?;
        measure(&app, "clock-moved", &mut bad).await?;

        // Locked with a PIN: only the lock, its PIN field and the waiting count.
        app.driver
            .action_chain()
            .key_down(Key::Control)
            .send_keys("l")
            .key_up(Key::Control)
            .perform()
            .await?;
        app.wait_stage("locked").await?;
        app.el("unlock-pin").await?;
        measure(&app, "locked", &mut bad).await?;

        assert!(
            bad.is_empty(),
            "{} elements under the WCAG 2.2 contrast minimum:\n{}",
            bad.len(),
            bad.join("\n")
        );
        Ok(())
    })
    .await;
}
