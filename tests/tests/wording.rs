//! The UI's words: one time format, in its sources and on screen, and one vocabulary.

use countersign_e2e::{App, AppRef, Sandbox};

/// Every place in the UI's source that turns a time into text. The UI has one time format:
/// `clock` in ui/words.js; every other file calls it.
#[test]
fn the_ui_formats_times_in_one_place() {
    let ui = countersign_e2e::workspace_root().join("ui");
    let mut formats = Vec::new();
    for entry in std::fs::read_dir(&ui).expect("ui/") {
        let path = entry.expect("ui/ entry").path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !matches!(ext, "js" | "html") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a UI file");
        for (n, line) in text.lines().enumerate() {
            if [
                "toLocaleTimeString",
                "toLocaleString",
                "toLocaleDateString",
                "DateTimeFormat",
            ]
            .iter()
            .any(|f| line.contains(f))
            {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                formats.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        !formats.is_empty() && formats.iter().all(|f| f.starts_with("words.js:")),
        "times are formatted outside words.js's clock():\n{}",
        formats.join("\n")
    );
}

/// The time of day in `text`: "H:MM", "H:MM AM" or "H:MM PM"; seconds after it are marked.
fn time_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let colon = text.find(':').and_then(|i| {
        // The first colon between digits: "Emulated time: 8:12 PM" has one after a word.
        let mut at = i;
        loop {
            if at > 0 && b[at - 1].is_ascii_digit() && b.get(at + 1).is_some_and(u8::is_ascii_digit)
            {
                return Some(at);
            }
            at = at + 1 + text[at + 1..].find(':')?;
        }
    })?;
    let start = text[..colon]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let mut end = colon + 3;
    if text[end..].starts_with(':') {
        return Some(format!("{} (with seconds)", &text[start..end + 3]));
    }
    if text[end..].starts_with(" AM") || text[end..].starts_with(" PM") {
        end += 3;
    }
    Some(text[start..end].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_time_on_screen_has_one_format() {
    let sandbox = Sandbox::new("time_formats");
    let app = App::launch("time_formats", &sandbox, None).await;
    app.run(|app| async move {
        let mut shown: Vec<(String, String)> = Vec::new();
        app.sign_in_on_demo("+33612345678").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        shown.push(("asked-time".into(), app.text("asked-time").await?));
        let step = app.inbox_code(2).await?;
        app.fill("stepup-code-input", &step).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;

        app.click("settings-open").await?;
        let when = app
            .wait_script(
                "return document.querySelector('[data-testid=audit-entry] .when')?.textContent || '';",
                "the approval in the history",
                |v| !v.as_str().unwrap_or_default().is_empty(),
            )
            .await?;
        shown.push(("history".into(), when.as_str().unwrap_or_default().to_owned()));
        app.click("settings-close").await?;

        app.click("bench-open").await?;
        app.click("clock-plus-1m").await?;
        let clock = app
            .wait_script(
                "return document.querySelector('[data-testid=bench-clock]').textContent;",
                "the bench's clock a minute on",
                |v| v.as_str().unwrap_or_default().contains("+1 min"),
            )
            .await?;
        shown.push(("bench-clock".into(), clock.as_str().unwrap_or_default().to_owned()));
        app.click("bench-close").await?;
        shown.push(("emulated-clock".into(), app.text("emulated-clock").await?));

        // A few seconds' offset is no warning: the badge reads hours and minutes. The clock
        // is at +60 s here.
        let mut hidden = Vec::new();
        for by in [-58, -61, 119] {
            hidden.push(clock_badge_hidden_after(&app, by).await?);
        }
        assert_eq!(hidden, [true, true, false], "the clock badge for 2 s, −59 s and 60 s");
        // A clock moved by days (its date shown) leaves the header's buttons on screen in the
        // small window: a week on, as far as the emulator's clock goes.
        let week = 7 * 86_400 - 60;
        assert!(!clock_badge_hidden_after(&app, week).await?, "the badge a week on");
        app.resize(720, 560).await?;
        let right = app
            .script(
                "const t = document.querySelector('[data-testid=theme-toggle]').getBoundingClientRect(); \
                 return [Math.round(t.right), document.documentElement.clientWidth];",
            )
            .await?;
        let (r, w) = (right[0].as_i64().unwrap_or(i64::MAX), right[1].as_i64().unwrap_or(0));
        assert!(r <= w, "the theme toggle ends at {r} px in a {w} px window");
        app.resize(1040, 760).await?;

        let list: Vec<String> = shown
            .iter()
            .map(|(id, text)| format!("{id}: {text:?} → {:?}", time_in(text)))
            .collect();
        println!("the UI's times:\n{}", list.join("\n"));
        let times: Vec<String> = shown
            .iter()
            .map(|(_, t)| time_in(t).unwrap_or_else(|| format!("no time in {t:?}")))
            .collect();
        // One shape for all: hours and minutes, the same clock convention, no seconds, and
        // today's date left out.
        let shape = |t: &str| t.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect::<String>().replace("99:", "9:");
        let first = shape(&times[0]);
        assert!(
            times.iter().all(|t| !t.contains("seconds") && !t.contains("no time") && shape(t) == first),
            "more than one time format:\n{}",
            list.join("\n")
        );
        Ok(())
    })
    .await;
}

/// Moves the server clock by `by_secs` with the app's own command, then opens
/// and closes the test bench, which reads the clock and draws the header's badge again.
/// Returns whether the badge is hidden.
async fn clock_badge_hidden_after(
    app: &AppRef,
    by_secs: i64,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let moved = app
        .driver
        .execute_async(
            "const [bySecs, done] = arguments; \
             window.__TAURI__.core.invoke('move_clock', { bySecs }) \
               .then(() => done('moved'), (e) => done(JSON.stringify(e)));",
            vec![serde_json::json!(by_secs)],
        )
        .await?;
    assert_eq!(
        moved.json().as_str(),
        Some("moved"),
        "move_clock: {:?}",
        moved.json()
    );
    app.click("bench-open").await?;
    app.wait_script(
        "return document.getElementById('bench').open;",
        "the test bench open",
        |v| v.as_bool() == Some(true),
    )
    .await?;
    app.click("bench-close").await?;
    let hidden = app
        .script("return document.getElementById('emulated-clock').hidden;")
        .await?;
    Ok(hidden.as_bool() == Some(true))
}

/// The UI keeps to one vocabulary: "Sign in"/"Sign out", "Send a new code", "tries",
/// "approved". Its words for the same things elsewhere are not in any page or module.
#[test]
fn the_ui_speaks_one_vocabulary() {
    let ui = countersign_e2e::workspace_root().join("ui");
    let other = [
        "Log in",
        "log in",
        "Log out",
        "log out",
        "Logout",
        "Login",
        "Resend code",
        "Resend the code",
        "attempts left",
        "attempt left",
        "GRANTED",
        "Granted",
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&ui).expect("ui/") {
        let path = entry.expect("ui/ entry").path();
        if !path.extension().is_some_and(|e| e == "js" || e == "html") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a UI file");
        for (n, line) in text.lines().enumerate() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            for w in other.iter().filter(|w| line.contains(*w)) {
                found.push(format!("{name}:{}: {w:?} in {}", n + 1, line.trim()));
            }
            // A count says "1 line" or "2 lines", never "line(s) were" (a call like `show(s)`
            // is followed by code, not by a word).
            let hedged = line.match_indices("(s) ").any(|(i, _)| {
                line[..i].ends_with(|c: char| c.is_ascii_alphabetic())
                    && line[i + 4..].starts_with(|c: char| c.is_ascii_alphabetic())
            });
            if hedged {
                found.push(format!(
                    "{name}:{}: a hedged plural in {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "words outside the UI's vocabulary:\n{}",
        found.join("\n")
    );
}
