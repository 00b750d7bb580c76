//! The Tauri adapter for approval requests, the app's side of the socket: a request goes into
//! the backend's queue, the window is redrawn, and a notification tells a person who is
//! looking elsewhere.

use crate::AppState;
use crate::approvals::LinkTaken;
use crate::backend::Backend;
use crate::requests::protocol::{AppStatus, Ask, Outcome, Status};
use crate::requests::socket::{self, Desk};
use crate::requests::source::Source;
#[cfg(windows)]
use std::process::ExitCode;
use std::time::Duration;
use tauri::{Emitter, Manager};

/// The event that carries a new view when something other than the person changed it.
pub const VIEW_EVENT: &str = "app-view";

#[derive(Clone)]
pub struct AppDesk(pub tauri::AppHandle);

impl AppDesk {
    fn redraw(&self, state: &AppState, b: &Backend) {
        let _ = self.0.emit(VIEW_EVENT, state.view(b));
    }

    fn window(&self) -> Option<tauri::WebviewWindow> {
        self.0.get_webview_window("main")
    }

    /// Builds the window again if it was closed to the tray.
    fn bring_forward(&self) {
        crate::window_life::show(&self.0);
    }

    /// Tells a person who is not looking at the window; clicking the notice brings it up.
    /// While locked, always (a focused locked window says nothing of the request, and the
    /// person may be away), and the notice says only "Approval requested".
    fn announce(&self, source: &Source, ask: &Ask) {
        let locked = self.0.state::<AppState>().lock.is_locked();
        // Closed to the tray: the request opens the window again.
        if self.window().is_none() {
            self.bring_forward();
        }
        let focused = self
            .window()
            .and_then(|w| w.is_focused().ok())
            .unwrap_or(false);
        if focused && !locked {
            return;
        }
        if let Some(w) = self.window() {
            let _ = w.request_user_attention(Some(tauri::UserAttentionType::Informational));
        }
        let body = notice_body(locked, source, ask);
        let me = self.clone();
        std::thread::spawn(move || me.notify(&body));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn notify(&self, body: &str) {
        let shown = notify_rust::Notification::new()
            .appname("Countersign")
            .summary("Approval requested")
            .body(body)
            .icon("countersign")
            .action("default", "Open Countersign")
            .show();
        match shown {
            // Blocks this thread until the notice is clicked or closed.
            Ok(h) => h.wait_for_action(|action| {
                if action == "default" {
                    self.bring_forward();
                }
            }),
            Err(e) => tracing::info!(error = %e, "no desktop notification"),
        }
    }

    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn notify(&self, body: &str) {
        if let Err(e) = notify_rust::Notification::new()
            .appname("Countersign")
            .summary("Approval requested")
            .body(body)
            .show()
        {
            tracing::info!(error = %e, "no desktop notification");
        }
    }
}

impl Desk for AppDesk {
    async fn submit(
        &self,
        source: Source,
        ask: Ask,
        reply: tokio::sync::oneshot::Sender<Outcome>,
    ) -> Result<(String, usize, Option<u8>), Box<Outcome>> {
        let state = self.0.state::<AppState>();
        let backend = state.backend_while_locked().await.map_err(|e| {
            Box::new(
                Outcome::new(Status::Refused, &ask)
                    .because(crate::codes::AppCode::Startup.as_str(), e.to_string()),
            )
        })?;
        let mut b = backend.lock().await;
        b.resume().await;
        let queued = b.enqueue(source.clone(), ask.clone(), Some(reply));
        self.redraw(&state, &b);
        let number = queued
            .as_ref()
            .ok()
            .and_then(|(id, _)| b.approvals().match_number(id));
        let deadline = queued
            .as_ref()
            .ok()
            .and_then(|(id, _)| b.approvals().deadline_ms(id));
        drop(b);
        let (id, position) = queued?;
        self.expire_at(id.clone(), deadline);
        self.announce(&source, &ask);
        Ok((id, position, number))
    }

    async fn withdraw(&self, id: String) {
        let state = self.0.state::<AppState>();
        if let Ok(backend) = state.backend_while_locked().await {
            let mut b = backend.lock().await;
            if b.withdraw_request(&id) {
                self.redraw(&state, &b);
            }
        }
    }

    async fn show(&self, link: Option<String>) {
        let Some(link) = link else {
            self.bring_forward();
            return;
        };
        let state = self.0.state::<AppState>();
        let Ok(backend) = state.backend_while_locked().await else {
            return;
        };
        let mut b = backend.lock().await;
        b.resume().await;
        let taken = b.take_link(&link);
        self.redraw(&state, &b);
        let deadline = match &taken {
            LinkTaken::Queued(id) => b.approvals().deadline_ms(id),
            _ => None,
        };
        drop(b);
        match taken {
            LinkTaken::Queued(id) => {
                self.expire_at(id, deadline);
                self.bring_forward();
            }
            LinkTaken::Noticed => self.bring_forward(),
            LinkTaken::Ignored => {}
        }
    }

    async fn status(&self) -> AppStatus {
        let state = self.0.state::<AppState>();
        // A backend that failed to start has no session.
        let signed_in = match state.backend_while_locked().await {
            Ok(backend) => {
                let mut b = backend.lock().await;
                // The stored session is looked up once per run, as a request would.
                b.resume().await;
                b.signed_in()
            }
            Err(_) => false,
        };
        #[cfg(target_os = "linux")]
        let tray = tokio::task::spawn_blocking(crate::tray::host_present)
            .await
            .ok();
        #[cfg(not(target_os = "linux"))]
        let tray = None;
        AppStatus {
            v: crate::requests::protocol::VERSION,
            signed_in,
            tray,
            locked: Some(state.lock.is_locked()),
        }
    }
}

impl AppDesk {
    /// Times the request out at its deadline, the queue's (Unix ms); the screen counts down
    /// to the same one.
    fn expire_at(&self, id: String, deadline_ms: Option<i64>) {
        let Some(deadline_ms) = deadline_ms else {
            return;
        };
        let me = self.clone();
        tauri::async_runtime::spawn(async move {
            let left = deadline_ms
                .saturating_sub(crate::approvals::now_ms())
                .max(0);
            tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
            let state = me.0.state::<AppState>();
            if let Ok(backend) = state.backend_while_locked().await {
                let mut b = backend.lock().await;
                if b.time_out_request(&id) {
                    me.redraw(&state, &b);
                }
            }
        });
    }
}

/// The notification's body under "Approval requested": who asks and what; while locked,
/// nothing. Notification servers render markup: the requester's words are escaped as text.
fn notice_body(locked: bool, source: &Source, ask: &Ask) -> String {
    if locked {
        return String::new();
    }
    let text = |t: &str| prelude_wire::text::markup_escaped(t);
    let (who, scope) = (text(&source.label()), text(&ask.scope));
    match &ask.reason {
        Some(r) => format!("{who} asks to approve {scope}: {}", text(r)),
        None => format!("{who} asks to approve {scope}."),
    }
}

/// Starts the socket listener for this profile in the background; on Unix, in the folder of
/// the profile's lock, which this process holds.
pub fn listen(app: &tauri::AppHandle, profile: String) {
    let desk = AppDesk(app.clone());
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        let listening = match crate::requests::instance::held() {
            Some(i) => socket::listen(&i.dir, &i.profile, desk).await,
            None => Err(socket::SocketError::RuntimeDir(format!(
                "this process does not hold profile {profile}"
            ))),
        };
        #[cfg(windows)]
        let listening = socket::listen(&profile, desk).await;
        if let Err(e) = listening {
            tracing::error!(error = %e, "approval requests from other programs are off");
        }
    });
}

/// A second launch for a profile whose app runs: hands over the link, if any, brings that
/// window forward, and ends. `None` when no app answers (this launch becomes the app).
/// Windows only: on Unix the profile's lock decides (instance.rs).
#[cfg(windows)]
pub fn forward_to_running(profile: &str, link: Option<String>) -> Option<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let mut conn = socket::connect(profile).await.ok()?;
        let msg = crate::requests::protocol::ClientMessage::Show {
            v: crate::requests::protocol::VERSION,
            link,
        };
        conn.send(&msg).await.ok()?;
        let answered = tokio::time::timeout(Duration::from_secs(5), conn.next()).await;
        match answered {
            Ok(Ok(Some(crate::requests::protocol::AppMessage::Shown { .. }))) => {
                eprintln!(
                    "countersign: already running for profile {profile}; its window was brought forward"
                );
                Some(ExitCode::SUCCESS)
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::source::Requester;

    #[test]
    fn a_locked_notice_says_nothing_of_who_asks_or_what() {
        let source = Source::Program(Requester {
            executable: "/usr/bin/deploy".into(),
            script: None,
            pid: 4242,
        });
        let ask = Ask::check(
            "transfer:write",
            [("amount".to_owned(), "20".to_owned())].into(),
            Some("Pay <b>Bo</b>"),
            None,
            false,
        )
        .unwrap();
        let open = notice_body(false, &source, &ask);
        assert!(
            open.contains("/usr/bin/deploy") && open.contains("transfer:write"),
            "{open}"
        );
        assert!(open.contains("&lt;b&gt;"), "markup escaped: {open}");
        assert_eq!(notice_body(true, &source, &ask), "");
    }
}
