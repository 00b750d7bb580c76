//! The emulator's own addresses and the Host and Origin rules over them: which `Host` names
//! this emulator (no DNS rebinding) and which `Origin` is its own or a `--cors-origin` one. The
//! middleware that applies them is in `guard`.

use crate::api::ApiError;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use prelude_wire::Code;
use std::net::SocketAddr;

/// What the emulator's addresses are made from: the parts of [`crate::Config`] that name hosts.
pub struct AddressSettings<'a> {
    pub tls: bool,
    pub public_url: Option<&'a str>,
    pub allow_hosts: &'a [String],
    pub cors_origins: &'a [String],
}

/// `scheme://host[:port]` in lower case with the default port dropped, or `None` when `raw`
/// is not an http(s) origin (a path, query or user part is refused).
pub fn parse_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || raw.trim_end_matches('/').ends_with('?')
    {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{host}{port}", url.scheme()))
}

/// A Host the emulator answers to: a name, and a port unless any port will do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRule {
    name: String,
    port: Option<u16>,
}

impl HostRule {
    /// `name` or `name:port`; IPv6 literals in brackets.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase();
        let auth: axum::http::uri::Authority = raw.parse().ok()?;
        if auth.as_str().contains('@') || auth.host().is_empty() {
            return None;
        }
        Some(Self {
            name: auth.host().to_owned(),
            port: auth.port_u16(),
        })
    }

    /// The host name, in lower case (an IPv6 literal in brackets).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn matches(&self, name: &str, port: u16) -> bool {
        self.name == name && self.port.is_none_or(|p| p == port)
    }
}

/// The emulator's own addresses, fixed once it is bound. Nothing here comes from a request.
#[derive(Clone, Debug)]
pub struct Origins {
    /// Where clients reach it: `--public-url`, else the bound address.
    pub public: String,
    /// The token issuer: the public origin's bare host (the real service's `iss` has no scheme).
    pub issuer: String,
    /// Every origin a DPoP `htu` may start with.
    pub own: Vec<String>,
    default_port: u16,
    hosts: Vec<HostRule>,
    cors: Vec<String>,
}

impl Origins {
    /// The addresses for `settings` once bound to `bound`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a `--public-url` that is not an http(s) origin.
    pub fn new(settings: &AddressSettings<'_>, bound: SocketAddr) -> Result<Self, crate::Error> {
        let cfg = settings;
        let scheme = if cfg.tls { "https" } else { "http" };
        let port = bound.port();
        let loopback = ["127.0.0.1", "localhost", "[::1]"];
        let mut hosts: Vec<HostRule> = loopback
            .iter()
            .map(|n| HostRule {
                name: (*n).to_owned(),
                port: Some(port),
            })
            .collect();
        let mut own: Vec<String> = loopback
            .iter()
            .map(|n| format!("{scheme}://{n}:{port}"))
            .collect();
        let bound_origin = match bound {
            SocketAddr::V4(a) if a.ip().is_unspecified() => format!("{scheme}://127.0.0.1:{port}"),
            SocketAddr::V6(a) if a.ip().is_unspecified() => format!("{scheme}://[::1]:{port}"),
            a => format!("{scheme}://{a}"),
        };
        if !own.contains(&bound_origin) {
            own.push(bound_origin.clone());
            if let Some(h) = HostRule::parse(bound_origin.split("://").nth(1).unwrap_or("")) {
                hosts.push(h);
            }
        }
        let public = match cfg.public_url {
            Some(u) => {
                let o = parse_origin(u)
                    .ok_or_else(|| crate::Error::Config(format!("bad --public-url {u:?}")))?;
                let auth = o.split("://").nth(1).unwrap_or_default().to_owned();
                if let Some(h) = HostRule::parse(&auth) {
                    // The Host a proxy forwards may or may not carry the default port.
                    hosts.push(HostRule { port: None, ..h });
                }
                own.insert(0, o.clone());
                o
            }
            None => bound_origin,
        };
        for h in cfg.allow_hosts {
            hosts.extend(HostRule::parse(h));
        }
        let issuer = public.split("://").nth(1).unwrap_or_default().to_owned();
        let cors = cfg
            .cors_origins
            .iter()
            .filter_map(|o| parse_origin(o))
            .collect();
        Ok(Self {
            public,
            issuer,
            own,
            default_port: if cfg.tls { 443 } else { 80 },
            hosts,
            cors,
        })
    }

    /// Every host name the emulator answers to, in lower case (IPv6 literals in brackets).
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(HostRule::name)
    }

    /// Whether a `Host` header names this emulator.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Ok(auth) = host
            .trim()
            .to_ascii_lowercase()
            .parse::<axum::http::uri::Authority>()
        else {
            return false;
        };
        let port = auth.port_u16().unwrap_or(self.default_port);
        self.hosts.iter().any(|r| r.matches(auth.host(), port))
    }

    pub(crate) fn is_own_or_listed(&self, origin: &str) -> bool {
        parse_origin(origin).is_some_and(|o| self.own.contains(&o) || self.cors.contains(&o))
    }

    pub(crate) fn is_listed(&self, origin: &str) -> bool {
        parse_origin(origin).is_some_and(|o| self.cors.contains(&o))
    }
}

pub(crate) fn is_loopback_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

/// `421 forbidden_host` unless the request's Host names one of `origins`' hosts.
pub fn own_host(origins: &Origins, req: &Request) -> Result<(), ApiError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if origins.host_allowed(h) => Ok(()),
        _ => Err(ApiError::new(
            Code::ForbiddenHost,
            "this server does not answer to that Host; see --public-url and --allow-host",
        )),
    }
}

/// `403 forbidden_origin` when the request carries an `Origin` that is neither one of
/// `origins`' own nor a `--cors-origin` one; a request without `Origin` (not from a page)
/// passes.
pub fn own_origin(origins: &Origins, req: &Request) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN).map(HeaderValue::to_str) {
        None => Ok(()),
        Some(Ok(o)) if origins.is_own_or_listed(o) => Ok(()),
        Some(_) => Err(ApiError::new(
            Code::ForbiddenOrigin,
            "requests from this origin are not accepted; see --cors-origin",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(cfg: crate::Config) -> Origins {
        Origins::new(&cfg.addresses(), "127.0.0.1:4010".parse().unwrap()).unwrap()
    }

    #[test]
    fn loopback_names_at_our_port_only() {
        let o = origins(crate::Config::default());
        for ok in [
            "127.0.0.1:4010",
            "localhost:4010",
            "[::1]:4010",
            "LOCALHOST:4010",
        ] {
            assert!(o.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:4010",
            "127.0.0.1:4011",
            "127.0.0.1",
            "",
            "a@b",
        ] {
            assert!(!o.host_allowed(bad), "{bad}");
        }
        assert_eq!(o.issuer, "127.0.0.1:4010");
    }

    #[test]
    fn public_url_and_allowed_hosts() {
        let o = origins(crate::Config {
            public_url: Some("https://Emu.Example".into()),
            allow_hosts: vec!["lab.local:8443".into(), "box".into()],
            ..Default::default()
        });
        assert_eq!(o.public, "https://emu.example");
        assert_eq!(o.issuer, "emu.example");
        assert!(o.host_allowed("emu.example"));
        assert!(o.host_allowed("lab.local:8443"));
        assert!(!o.host_allowed("lab.local:8444"));
        assert!(o.host_allowed("box:1234"));
        assert!(o.own.contains(&"https://emu.example".to_owned()));
    }

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(
            parse_origin("HTTPS://A.Example:443/").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            parse_origin("http://a.example:8080").as_deref(),
            Some("http://a.example:8080")
        );
        for bad in [
            "a.example",
            "ftp://a.example",
            "https://a.example/x",
            "https://u@a.example",
        ] {
            assert!(parse_origin(bad).is_none(), "{bad}");
        }
        assert!(is_loopback_origin("http://localhost:5173"));
        assert!(!is_loopback_origin("https://evil.example"));
        assert!(!is_loopback_origin("null"));
    }
}
