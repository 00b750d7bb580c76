//! HTTPS for the emulator: a self-signed certificate made at start, and a listener that does the
//! TLS handshake before axum sees the connection. The published web SDK forces `https://`, and
//! `__Host-` cookies need it.

use crate::Error;
use std::net::SocketAddr;

#[cfg(feature = "tls")]
pub use tokio_rustls::TlsAcceptor as Acceptor;

/// The names a certificate for `origins` carries: every host the emulator answers to, so a
/// client that trusts the certificate can reach it by any of them (`localhost`, `127.0.0.1`,
/// `::1`, the `--public-url` host, each `--allow-host` name and the bound address). IPv6
/// literals lose their brackets; rcgen makes an IP SAN of each address and a DNS SAN of the
/// rest (RFC 5280 §4.2.1.6).
pub fn cert_names(origins: &crate::origins::Origins) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for n in origins.host_names() {
        let n = n.trim_start_matches('[').trim_end_matches(']').to_owned();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// A self-signed certificate for `names` (see [`cert_names`]), and the acceptor that serves it.
///
/// # Errors
/// [`Error::Tls`] when a name cannot go into a certificate or the TLS set-up fails.
#[cfg(feature = "tls")]
pub fn self_signed(names: Vec<String>) -> Result<(Acceptor, String), Error> {
    use std::sync::Arc;
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(e.to_string()))?;
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Acceptor::from(Arc::new(cfg)), pem))
}

/// Without the `tls` feature there is no acceptor, and asking for one says so.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub enum Acceptor {}

#[cfg(not(feature = "tls"))]
impl Acceptor {
    pub async fn accept(
        &self,
        _tcp: tokio::net::TcpStream,
    ) -> std::io::Result<tokio::net::TcpStream> {
        match *self {}
    }
}

#[cfg(not(feature = "tls"))]
pub fn self_signed(_names: Vec<String>) -> Result<(Acceptor, String), Error> {
    Err(Error::Tls(
        "this build has no TLS; build prelude-emulator with its `tls` feature".into(),
    ))
}

/// The client's address, for both plain and TLS connections.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_the_emulator_answers_to_is_named_once() {
        let cfg = crate::Config {
            public_url: Some("https://Emu.Example:8443".into()),
            allow_hosts: vec!["10.0.0.7".into(), "[fd00::7]:9".into(), "localhost".into()],
            ..Default::default()
        };
        let origins =
            crate::origins::Origins::new(&cfg.addresses(), "127.0.0.1:4010".parse().unwrap())
                .unwrap();
        assert_eq!(
            cert_names(&origins),
            [
                "127.0.0.1",
                "localhost",
                "::1",
                "emu.example",
                "10.0.0.7",
                "fd00::7"
            ]
        );
    }
}
