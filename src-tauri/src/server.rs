//! The one server type: the CLI, the settings, the UI and the backend all speak it. Stored and
//! sent as `{"kind": "embedded" | "app_id" | "url", "value": …}`.

use crate::error::{AppError, AppResult};
use crate::view::ServerView;
use prelude_session::Endpoint;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Server {
    /// The emulator inside the app.
    Embedded,
    /// A real Prelude app: `https://ID.session.prelude.dev`.
    AppId(String),
    /// Any Prelude-compatible base URL (a standalone emulator, a custom domain).
    Url(String),
}

impl Server {
    /// What the user chose in Settings: a kind and the text typed for it.
    pub fn parse(kind: &str, value: &str) -> AppResult<Self> {
        let v = value.trim();
        let server = match kind {
            "embedded" => Server::Embedded,
            "app_id" if !v.is_empty() => Server::AppId(v.to_owned()),
            "url" if !v.is_empty() => Server::Url(v.to_owned()),
            "app_id" | "url" => {
                return Err(AppError::InvalidInput(
                    "enter the app id or the URL of the server".into(),
                ));
            }
            _ => {
                return Err(AppError::InvalidInput(format!(
                    "unknown server kind {kind}"
                )));
            }
        };
        server.endpoint()?;
        Ok(server)
    }

    /// The server named on the command line or in the environment, if any: an endpoint URL
    /// before an app id.
    pub fn from_args(endpoint: Option<String>, app_id: Option<String>) -> Option<Self> {
        let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        given(endpoint)
            .map(Server::Url)
            .or_else(|| given(app_id).map(Server::AppId))
    }

    /// Where the client connects; `None` for the embedded server, whose port is chosen at
    /// start.
    pub fn endpoint(&self) -> AppResult<Option<Endpoint>> {
        Ok(match self {
            Server::Embedded => None,
            Server::AppId(id) => Some(Endpoint::app_id(id)?),
            Server::Url(u) => Some(Endpoint::url(u)?),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Server::Embedded => "embedded",
            Server::AppId(_) => "app_id",
            Server::Url(_) => "url",
        }
    }

    /// The text the user typed for it (empty for the embedded server).
    pub fn value(&self) -> &str {
        match self {
            Server::Embedded => "",
            Server::AppId(v) | Server::Url(v) => v,
        }
    }

    /// Names the server across runs: in the settings (which server had a session) and, for the
    /// embedded one whose port changes, in the secret store.
    pub fn key(&self) -> String {
        match self {
            Server::Embedded => "embedded".to_owned(),
            Server::AppId(id) => format!("app:{id}"),
            Server::Url(u) => format!("url:{}", u.trim_end_matches('/')),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Server::Embedded => "Built-in demo server".to_owned(),
            Server::AppId(id) => format!("Prelude app {id}"),
            Server::Url(u) => u.trim_end_matches('/').to_owned(),
        }
    }

    pub fn view(&self, demo: bool) -> ServerView {
        ServerView {
            kind: self.kind(),
            label: self.label(),
            demo,
            scenarios: matches!(self, Server::Embedded),
            scenario: None,
            demo_identities: match self {
                Server::Embedded => {
                    vec![prelude_emulator::DEMO_PHONE, prelude_emulator::DEMO_EMAIL]
                }
                _ => vec![],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shape_everywhere() {
        let s = Server::parse("url", " http://127.0.0.1:4010 ").unwrap();
        assert_eq!(s, Server::Url("http://127.0.0.1:4010".into()));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kind"], "url");
        assert_eq!(json["value"], "http://127.0.0.1:4010");
        assert_eq!(serde_json::from_value::<Server>(json).unwrap(), s);
        let e: Server = serde_json::from_str(r#"{"kind":"embedded"}"#).unwrap();
        assert_eq!(e, Server::Embedded);
        assert_eq!(s.kind(), "url");
        assert_eq!(Server::parse(s.kind(), s.value()).unwrap(), s);
    }

    #[test]
    fn bad_choices_are_refused_with_a_reason() {
        assert!(Server::parse("url", "").is_err());
        assert!(Server::parse("url", "not a url").is_err());
        assert!(Server::parse("app_id", "bad id!").is_err());
        assert!(Server::parse("ftp", "x").is_err());
    }

    #[test]
    fn arguments_prefer_the_endpoint() {
        assert_eq!(
            Server::from_args(Some("http://x:1".into()), Some("abc".into())),
            Some(Server::Url("http://x:1".into()))
        );
        assert_eq!(
            Server::from_args(Some(" ".into()), Some("abc".into())),
            Some(Server::AppId("abc".into()))
        );
        assert_eq!(Server::from_args(None, None), None);
    }
}
