//! The request pipeline: DPoP proofs with the nonce and clock-skew retries, Bearer with a
//! single 401 → refresh → replay, and wire errors mapped to [`Error`].

use crate::dpop::{DpopKey, normalize_htu};
use crate::error::{Error, Result};
use crate::headers::{is_json, parse_challenges};
use crate::store::Item;
use crate::util::unix_now;
use crate::{MAX_CLOCK_SKEW_SECS, SessionClient};
use prelude_wire::Code;
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::sync::atomic::Ordering;

#[derive(Clone)]
pub(crate) enum Proof {
    None,
    /// A regular proof with the device key (created if missing), the cached nonce and a new jti.
    Regular,
    /// A challenge-scoped proof: the challenge token's jti, no nonce, never a new key.
    Challenge(Option<String>),
    /// A regular proof from a key snapshot, for `/revoke` after the local wipe.
    Snapshot {
        key: DpopKey,
        nonce: Option<String>,
    },
}

pub(crate) struct Call {
    pub method: Method,
    pub route: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub proof: Proof,
    pub bearer: bool,
    pub refresh_token: Option<SecretString>,
    pub verification: Option<SecretString>,
}

impl Call {
    pub fn post(route: &str) -> Self {
        Self {
            method: Method::POST,
            route: route.to_owned(),
            query: vec![],
            body: None,
            proof: Proof::None,
            bearer: false,
            refresh_token: None,
            verification: None,
        }
    }
    pub fn get(route: &str) -> Self {
        Self {
            method: Method::GET,
            ..Self::post(route)
        }
    }
    pub fn body(mut self, v: serde_json::Value) -> Self {
        self.body = Some(v);
        self
    }
    pub fn proof(mut self, p: Proof) -> Self {
        self.proof = p;
        self
    }
    pub fn bearer(mut self) -> Self {
        self.bearer = true;
        self
    }
}

pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON. A body that says it is another media type is refused by name; one
    /// that says nothing is tried as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if let Some(t) = self.header("content-type").filter(|t| !is_json(t)) {
            let t: String = t.chars().take(60).collect();
            return Err(Error::decoding(&format!(
                "the server answered {t}, not JSON"
            )));
        }
        serde_json::from_slice(&self.body).map_err(|_| Error::decoding("unexpected response body"))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    /// `local − server` seconds, from `Date` (0 without one); used to move server times onto
    /// our clock.
    ///
    /// # Errors
    /// [`Error::ClockSkew`] when the two clocks are more than [`MAX_CLOCK_SKEW_SECS`] apart.
    pub fn clock_offset(&self) -> Result<i64> {
        Ok(server_offset(&self.headers)?.map_or(0, |s| -s))
    }
}

/// `server − local` seconds from `Date`, or `None` without a readable one.
///
/// # Errors
/// [`Error::ClockSkew`] past [`MAX_CLOCK_SKEW_SECS`] either way: such a gap is a wrong clock,
/// here or there, and adopting it would date every proof by it.
fn server_offset(h: &HeaderMap) -> Result<Option<i64>> {
    let Some(server) = server_time(h) else {
        return Ok(None);
    };
    let skew = server - unix_now();
    if skew.abs() > MAX_CLOCK_SKEW_SECS {
        return Err(Error::ClockSkew { skew_secs: skew });
    }
    Ok(Some(skew))
}

/// Reads a response body of at most `limit` bytes: an announced `Content-Length` over it is
/// refused before reading, and the body is counted as it arrives, since that header may be
/// absent (chunked, or up to the connection's end) or wrong.
///
/// # Errors
/// [`Error::ResponseTooLarge`] past `limit`; [`Error::Network`] or [`Error::Timeout`] when the
/// body breaks off.
pub async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let too_large = || Error::ResponseTooLarge { limit };
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn server_time(h: &HeaderMap) -> Option<i64> {
    let d = h.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(d).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// An error body: Prelude's `{code, message}`, or OAuth's `{error, error_description}`
/// (RFC 6749 §5.2, which RFC 9449 §8 uses for `use_dpop_nonce`).
#[derive(serde::Deserialize)]
struct WireError {
    code: Option<String>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    attempts_remaining: Option<u32>,
}

/// The wire code, message and remaining attempts of a refusal: from a JSON body first, else
/// from a `DPoP` or `Bearer` challenge in `WWW-Authenticate` (RFC 9449 §7.1, §9; RFC 6750 §3),
/// else `http_{status}`.
fn wire_error(status: u16, headers: &HeaderMap, body: &[u8]) -> (String, String, Option<u32>) {
    let json_body = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(is_json);
    if json_body && let Ok(w) = serde_json::from_slice::<WireError>(body) {
        let attempts = w.attempts_remaining;
        if let Some(code) = w.code.or(w.error) {
            let m = w
                .message
                .or(w.error_description)
                .unwrap_or_else(|| code.clone());
            return (code, m, attempts);
        }
    }
    let challenged = headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .find_map(|c| {
            let error = c
                .param("error")
                .filter(|_| c.is("DPoP") || c.is("Bearer"))?;
            let message = c.param("error_description").unwrap_or(error).to_owned();
            Some((error.to_owned(), message))
        });
    if let Some((error, message)) = challenged {
        // RFC 6750's "the token is not accepted" is our `unauthorized`: refresh, then replay.
        let code = if error == "invalid_token" {
            Code::Unauthorized.as_str().to_owned()
        } else {
            error
        };
        return (code, message, None);
    }
    (format!("http_{status}"), format!("HTTP {status}"), None)
}

impl SessionClient {
    pub(crate) fn device_id(&self) -> Result<String> {
        if let Some(id) = self.local().device_id.clone() {
            return Ok(id);
        }
        let id = match self.store_get(Item::DeviceId)? {
            Some(v) => v.to_string(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                self.store_set(Item::DeviceId, &id)?;
                id
            }
        };
        self.local().device_id = Some(id.clone());
        Ok(id)
    }

    pub(crate) fn existing_key(&self) -> Result<Option<DpopKey>> {
        if let Some(k) = self.local().key.clone() {
            return Ok(Some(k));
        }
        let Some(text) = self.store_get(Item::DpopKey)? else {
            return Ok(None);
        };
        let key = DpopKey::import(&text)
            .ok_or_else(|| Error::KeyringUnavailable("the stored DPoP key is unreadable".into()))?;
        self.local().key = Some(key.clone());
        Ok(Some(key))
    }

    /// The key is created lazily by the first regular proof (normally `/login/finalize`).
    fn key_or_create(&self) -> Result<DpopKey> {
        if let Some(k) = self.existing_key()? {
            return Ok(k);
        }
        let key = DpopKey::generate();
        self.store_set(Item::DpopKey, &key.export())?;
        tracing::debug!(jkt = %key.thumbprint(), "created a DPoP key");
        self.local().key = Some(key.clone());
        Ok(key)
    }

    pub(crate) fn nonce(&self) -> Result<Option<String>> {
        if let Some(n) = self.local().nonce.clone() {
            return Ok(n);
        }
        let n = self.store_get(Item::DpopNonce)?.map(|v| v.to_string());
        self.local().nonce = Some(n.clone());
        Ok(n)
    }

    fn set_nonce(&self, nonce: &str) -> Result<()> {
        if self.local().nonce.as_ref().and_then(|n| n.as_deref()) == Some(nonce) {
            return Ok(());
        }
        self.store_set(Item::DpopNonce, nonce)?;
        self.local().nonce = Some(Some(nonce.to_owned()));
        Ok(())
    }

    /// `server − local` seconds, applied to proof `iat`; a stored value past the bound (from an
    /// older version) counts as none.
    pub(crate) fn skew(&self) -> Result<i64> {
        if let Some(s) = self.local().skew {
            return Ok(s);
        }
        let s = self
            .store_get(Item::ClockSkew)?
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|s| s.abs() <= MAX_CLOCK_SKEW_SECS)
            .unwrap_or(0);
        self.local().skew = Some(s);
        Ok(s)
    }

    fn set_skew(&self, skew: i64) -> Result<()> {
        if skew == 0 {
            self.store_delete(Item::ClockSkew)?;
        } else {
            self.store_set(Item::ClockSkew, &skew.to_string())?;
        }
        self.local().skew = Some(skew);
        Ok(())
    }

    /// Sends a call; on a Bearer route a 401 invalidates the token, refreshes once and replays
    /// once. If that refresh fails, the original 401 surfaces.
    pub(crate) async fn call(&self, call: &Call) -> Result<Reply> {
        if !call.bearer {
            return self.send(call, None).await;
        }
        let (token, generation) = self.bearer_token().await?;
        match self.send(call, Some(&token)).await {
            Err(e @ Error::Unauthorized { .. }) if matches!(&e, Error::Unauthorized { code, .. } if code == Code::Unauthorized.as_str()) =>
            {
                self.invalidate_access();
                if self.refresh_if_unchanged(generation).await.is_err() {
                    return Err(e);
                }
                let (token, _) = self.bearer_token().await?;
                self.send(call, Some(&token)).await
            }
            other => other,
        }
    }

    /// The cached access token even if expired (the server decides); refreshes when none.
    async fn bearer_token(&self) -> Result<(SecretString, u64)> {
        loop {
            let generation = self.inner.generation.load(Ordering::SeqCst);
            if let Some(a) = self.local().access.clone() {
                return Ok((a.token, generation));
            }
            self.refresh_if_unchanged(generation).await?;
            if self.local().access.is_none() {
                return Err(Error::unauthorized("not signed in"));
            }
        }
    }

    pub(crate) async fn send(&self, call: &Call, bearer: Option<&SecretString>) -> Result<Reply> {
        let url = self.url(&call.route);
        let htu = normalize_htu(&url);
        let mut snapshot_nonce = match &call.proof {
            Proof::Snapshot { nonce, .. } => nonce.clone(),
            _ => None,
        };
        let mut nonce_retried = false;
        let mut skew_retried = false;
        loop {
            let mut req = self
                .inner
                .http
                .request(call.method.clone(), url.clone())
                .header("accept", "application/json")
                .header("x-device-id", self.device_id()?);
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            if let Some(b) = &call.body {
                req = req.json(b);
            }
            if let Some(t) = bearer {
                req = req.bearer_auth(t.expose_secret());
            }
            if let Some(rt) = &call.refresh_token {
                req = req.header("x-refresh-token", rt.expose_secret());
            }
            if let Some(v) = &call.verification {
                req = req.header("x-verification-token", v.expose_secret());
            }
            let iat = unix_now() + self.skew()?;
            let method = call.method.as_str();
            match &call.proof {
                Proof::None => {}
                Proof::Regular => {
                    let key = self.key_or_create()?;
                    let nonce = self.nonce()?;
                    let jti = uuid::Uuid::new_v4().to_string();
                    req = req.header("dpop", key.proof(method, &htu, &jti, iat, nonce.as_deref()));
                }
                Proof::Challenge(jti) => {
                    // Without a key or a jti the request goes out unsigned and the server's
                    // answer surfaces (docs/protocol.md, "DPoP").
                    if let (Some(key), Some(jti)) = (self.existing_key()?, jti) {
                        req = req.header("dpop", key.proof(method, &htu, jti, iat, None));
                    }
                }
                Proof::Snapshot { key, .. } => {
                    let jti = uuid::Uuid::new_v4().to_string();
                    req = req.header(
                        "dpop",
                        key.proof(method, &htu, &jti, iat, snapshot_nonce.as_deref()),
                    );
                }
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = read_body(resp, crate::MAX_RESPONSE_BYTES).await?;
            let nonce_header = crate::headers::dpop_nonce(&headers);
            if let (Proof::Regular, Some(n)) = (&call.proof, &nonce_header) {
                self.set_nonce(n)?;
            }
            if (200..300).contains(&status) {
                return Ok(Reply { headers, body });
            }
            let (code, message, attempts) = wire_error(status, &headers, &body);
            let regular = matches!(call.proof, Proof::Regular | Proof::Snapshot { .. });
            if regular && code == Code::UseDpopNonce.as_str() && !nonce_retried {
                let n = nonce_header.ok_or_else(|| Error::Generic {
                    code: "missing_dpop_nonce".into(),
                    message: "the server asked for a nonce without giving a usable one".into(),
                })?;
                if matches!(call.proof, Proof::Snapshot { .. }) {
                    snapshot_nonce = Some(n);
                }
                nonce_retried = true;
                tracing::debug!(route = %call.route, "retrying with the server's DPoP nonce");
                continue;
            }
            if regular && code == Code::InvalidDpopProof.as_str() && !skew_retried {
                skew_retried = true;
                if let Some(skew) = server_offset(&headers)? {
                    let skew = if skew.abs() >= 1 { skew } else { 0 };
                    // A skew learned earlier may be stale (the server's clock was set back):
                    // any change is worth one retry, including back to none.
                    if skew != self.skew()? {
                        self.set_skew(skew)?;
                        tracing::debug!(skew, "retrying with the server's clock");
                        continue;
                    }
                }
            }
            return Err(Error::from_wire(status, &code, &message, attempts));
        }
    }

    pub(crate) fn invalidate_access(&self) {
        self.local().access = None;
    }
}
