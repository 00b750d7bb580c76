//! HTTPS for the emulator: a self-signed certificate made at start, and a listener that does the
//! TLS handshake before axum sees the connection. The published web SDK forces `https://`, and
//! `__Host-` cookies need it.

use crate::Error;
use std::net::SocketAddr;

#[cfg(feature = "tls")]
pub use tokio_rustls::TlsAcceptor as Acceptor;

/// A certificate for `localhost`, `127.0.0.1` and `::1`, and the acceptor that serves it.
#[cfg(feature = "tls")]
pub fn self_signed() -> Result<(Acceptor, String), Error> {
    use std::sync::Arc;
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
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
pub fn self_signed() -> Result<(Acceptor, String), Error> {
    Err(Error::Tls(
        "this build has no TLS; build prelude-emulator with its `tls` feature".into(),
    ))
}

/// The client's address, for both plain and TLS connections.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);
