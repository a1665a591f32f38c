//! TLS to the database, as the connection URL asks (libpq's `sslmode` and `sslrootcert`):
//! a deployment with several nodes sends classified objects to a database on another host.
//!
//! - `sslmode=disable` (or none): plain TCP, for a database on the same host.
//! - `sslmode=require`: encrypted; the server's certificate is checked against
//!   `sslrootcert` when one is given, else not checked (libpq's meaning of `require`).
//! - `sslmode=verify-ca` / `verify-full`: encrypted, the certificate chain checked against
//!   `sslrootcert` (required) and the host name against the certificate (both modes check the
//!   name: relto does not offer the weaker check).
//!
//! tokio-postgres knows `require` but not the verify modes: they are taken out of the URL here
//! and the connector is configured instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use relto_store::StoreError;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};

/// What the URL asks of the connection's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Plain,
    /// Encrypted; the certificate checked against this CA when given.
    Require(Option<PathBuf>),
    /// Encrypted; chain and host name checked against this CA.
    VerifyFull(PathBuf),
}

/// Takes `sslmode` and `sslrootcert` out of a connection URL: the URL for tokio-postgres and
/// the mode. Err names what to fix (never the URL, which may hold a password).
pub(crate) fn split_url(url: &str) -> Result<(String, TlsMode), StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => return Ok((url.to_string(), TlsMode::Plain)),
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", m)) => mode = Some(m.to_string()),
            Some(("sslrootcert", r)) => root = Some(PathBuf::from(percent_decode(r))),
            _ => kept.push(pair),
        }
    }
    let tls = match (mode.as_deref(), root) {
        (None | Some("disable") | Some("allow") | Some("prefer"), _) => TlsMode::Plain,
        (Some("require"), root) => TlsMode::Require(root),
        (Some("verify-ca" | "verify-full"), Some(root)) => TlsMode::VerifyFull(root),
        (Some("verify-ca" | "verify-full"), None) => {
            return Err(StoreError::Invalid(
                "sslmode=verify-full needs sslrootcert=PATH (the CA certificate, PEM) in the database URL".into(),
            ))
        }
        (Some(other), _) => {
            return Err(StoreError::Invalid(format!(
                "sslmode={other} is not one of disable, require, verify-ca, verify-full"
            )))
        }
    };
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector for a TLS mode (None: plain TCP).
pub(crate) fn connector(mode: &TlsMode) -> Result<Option<MakeRustlsConnect>, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?;
    let config = match mode {
        TlsMode::Plain => return Ok(None),
        TlsMode::Require(None) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        TlsMode::Require(Some(root)) | TlsMode::VerifyFull(root) => builder
            .with_root_certificates(roots(root)?)
            .with_no_client_auth(),
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn roots(path: &Path) -> Result<rustls::RootCertStore, StoreError> {
    let pem = std::fs::read(path)
        .map_err(|e| StoreError::Invalid(format!("sslrootcert {}: {e}", path.display())))?;
    let mut store = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| {
            StoreError::Invalid(format!("sslrootcert {}: not PEM: {e}", path.display()))
        })?;
        store
            .add(cert)
            .map_err(|e| StoreError::Invalid(format!("sslrootcert {}: {e}", path.display())))?;
    }
    if store.is_empty() {
        return Err(StoreError::Invalid(format!(
            "sslrootcert {}: no certificate found (expected PEM 'BEGIN CERTIFICATE')",
            path.display()
        )));
    }
    Ok(store)
}

/// `sslmode=require` without a CA: the channel is encrypted and the handshake's signatures
/// checked, the certificate's issuer and name are not (libpq's `require`; use verify-full).
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_tls_parameters_out_of_the_url() {
        assert_eq!(
            split_url("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".into(), TlsMode::Plain)
        );
        assert_eq!(
            split_url("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5")
                .unwrap(),
            (
                "postgres://u@h/db?connect_timeout=5".into(),
                TlsMode::VerifyFull("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            split_url("postgres://u@h/db?sslmode=require").unwrap().1,
            TlsMode::Require(None)
        );
        assert!(split_url("postgres://u@h/db?sslmode=verify-full").is_err());
        assert!(split_url("postgres://u@h/db?sslmode=sometimes").is_err());
    }
}
