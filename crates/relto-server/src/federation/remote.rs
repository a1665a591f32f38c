//! A peer's TAXII 2.1 server, as relto calls it: one request per connection, over plain HTTP
//! (loopback only, checked with the realm) or TLS trusting the peer's own authorities. No
//! redirect is followed and no proxy used; every answer is bounded in size and in time.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use relto_policy::realm::PeerEntry;
use relto_taxii::hops::{HopPath, HOPS_HEADER, ORIGIN_HEADER};
use relto_taxii::remote::shown;
use relto_taxii::TAXII_MEDIA_TYPE;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// The most one answer of a peer may hold.
pub const MAX_ANSWER: usize = 64 << 20;
/// The longest one request may take, from connecting to the answer's last byte (a peer that
/// trickles or never ends its body is cut off here).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exchange with a peer failed: said once, in the log, the metric and `relto peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerError(pub String);

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<relto_store::StoreError> for PeerError {
    fn from(e: relto_store::StoreError) -> Self {
        PeerError(format!("the store: {e}"))
    }
}

/// A peer's answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The answer when its status is `want`, else why not (a redirect is named, not followed).
    pub fn expect(self, want: StatusCode, what: &str) -> Result<Self, PeerError> {
        if self.status == want {
            return Ok(self);
        }
        let header = |h: &str| {
            self.headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(shown)
                .unwrap_or_else(|| "(none)".into())
        };
        Err(PeerError(if self.status.is_redirection() {
            format!(
                "{what}: the peer answered {} redirecting to {}; relto does not follow redirects: fix the peer's url",
                self.status,
                header("location")
            )
        } else {
            // A TAXII error body names the problem; any other body is shown in part.
            let said = serde_json::from_slice::<serde_json::Value>(&self.body)
                .ok()
                .and_then(|v| {
                    let t = v["title"].as_str()?.to_string();
                    Some(match v["description"].as_str() {
                        Some(d) => format!("{t}: {d}"),
                        None => t,
                    })
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
            format!(
                "{what}: the peer answered {}: {}",
                self.status,
                shown(&said)
            )
        }))
    }
}

/// How to reach one peer's collection.
pub struct Remote {
    /// `host:port` as the URL names it (the Host header).
    authority: String,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The collection's path and its API root's, each ending in '/'.
    pub collection_path: String,
    /// The collection's id: the path's last segment.
    pub collection_id: String,
    pub api_root_path: String,
    authorization: HeaderValue,
    /// Signs every request (RFC 9421) when the hub has a key.
    signer: Option<Arc<relto_taxii::signature::SigningKey>>,
    /// This hub's name on hop paths: every request names the path of what it carries, this
    /// hub last (what it asks for or withdraws: this hub alone). None: no path is named.
    hub: Option<String>,
}

impl Remote {
    /// The remote of a peer: its URL (already checked with the realm), its credentials from
    /// the environment, its authorities' file for https.
    pub fn new(
        peer: &PeerEntry,
        signer: Option<Arc<relto_taxii::signature::SigningKey>>,
        hub: Option<String>,
    ) -> Result<Self, PeerError> {
        let (scheme, rest) = peer
            .url
            .split_once("://")
            .ok_or_else(|| PeerError(format!("url {} has no scheme", shown(&peer.url))))?;
        let slash = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(slash);
        let https = scheme.eq_ignore_ascii_case("https");
        let (host, port) = split_authority(authority, if https { 443 } else { 80 })
            .ok_or_else(|| PeerError(format!("url {}: bad host or port", shown(&peer.url))))?;
        let collection_path = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let api_root_path = collection_path
            .trim_end_matches('/')
            .rsplit_once("/collections/")
            .map(|(root, _)| format!("{root}/"))
            .ok_or_else(|| PeerError(format!("url {} names no collection", shown(&peer.url))))?;
        let tls = if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|_| PeerError(format!("'{host}' is not a TLS server name")))?;
            Some((connector(peer)?, name))
        } else {
            None
        };
        let collection_id = collection_path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(Self {
            collection_id,
            authority: authority.to_string(),
            host,
            port,
            tls,
            collection_path,
            api_root_path,
            authorization: authorization(peer)?,
            signer,
            hub,
        })
    }

    /// GET `path_and_query` (a path on the peer's server).
    pub async fn get(&self, path_and_query: &str) -> Result<Answer, PeerError> {
        self.send_as(Method::GET, path_and_query, None, &HopPath::default())
            .await
    }

    /// POST a TAXII envelope to `path`: objects that passed through `carried` before.
    pub async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        carried: &HopPath,
    ) -> Result<Answer, PeerError> {
        self.send_as(Method::POST, path, Some((body, TAXII_MEDIA_TYPE)), carried)
            .await
    }

    /// POST a JSON body (relto's own API) to `path`.
    pub async fn post_json(&self, path: &str, body: Vec<u8>) -> Result<Answer, PeerError> {
        let body = Some((body, "application/json"));
        self.send_as(Method::POST, path, body, &HopPath::default())
            .await
    }

    /// DELETE `path_and_query` (TAXII 2.1 §5.8: versions of one object).
    pub async fn delete(&self, path_and_query: &str) -> Result<Answer, PeerError> {
        self.send_as(Method::DELETE, path_and_query, None, &HopPath::default())
            .await
    }

    async fn send_as(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<(Vec<u8>, &str)>,
        carried: &HopPath,
    ) -> Result<Answer, PeerError> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header("host", &self.authority)
            .header("accept", TAXII_MEDIA_TYPE)
            .header("user-agent", concat!("relto/", env!("CARGO_PKG_VERSION")))
            .header("authorization", self.authorization.clone());
        let body = match body {
            Some((bytes, media_type)) => {
                req = req
                    .header("content-type", media_type)
                    .header("content-length", bytes.len());
                bytes
            }
            None => Vec::new(),
        };
        let path = self.hub.as_deref().map(|hub| carried.then(hub));
        let origin = path.as_ref().and_then(HopPath::origin);
        let hops = path.as_ref().map(HopPath::to_text);
        if let (Some(origin), Some(hops)) = (origin, &hops) {
            req = req.header(ORIGIN_HEADER, origin).header(HOPS_HEADER, hops);
        }
        if let Some(key) = &self.signer {
            let (path, query) = match path_and_query.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (path_and_query, None),
            };
            let request = relto_taxii::signature::Request {
                method: method.as_str(),
                authority: &self.authority,
                path,
                query,
                body: &body,
                origin,
                hops: hops.as_deref(),
            };
            let signed = relto_taxii::signature::sign(key, &request, crate::now_us() / 1_000_000);
            req = req
                .header("content-digest", signed.content_digest)
                .header("signature-input", signed.signature_input)
                .header("signature", signed.signature);
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| {
            PeerError(format!(
                "cannot build the request for {path_and_query}: {e}"
            ))
        })?;
        let exchange = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| PeerError(format!("cannot connect to {}: {e}", self.authority)))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                Some((connector, name)) => {
                    let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                        PeerError(format!("TLS with {} failed: {e}", self.authority))
                    })?;
                    exchange(TokioIo::new(tls), req).await
                }
                None => exchange(TokioIo::new(tcp), req).await,
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                PeerError(format!(
                    "{} did not answer completely within {} s",
                    self.authority,
                    REQUEST_TIMEOUT.as_secs()
                ))
            })?
    }
}

/// One request and its whole answer on a fresh connection.
async fn exchange<I>(io: I, req: Request<Full<Bytes>>) -> Result<Answer, PeerError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| PeerError(format!("HTTP handshake failed: {e}")))?;
    let driver = tokio::spawn(conn);
    let answer = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| PeerError(format!("the request failed: {e}")))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                PeerError(if e.is::<http_body_util::LengthLimitError>() {
                    format!("the answer is larger than {} MiB", MAX_ANSWER >> 20)
                } else {
                    format!("the answer's body broke off: {e}")
                })
            })?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
    .await;
    driver.abort();
    answer
}

/// `host[:port]` or `[v6][:port]`.
fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// The Authorization header from the variables the peer names.
fn authorization(peer: &PeerEntry) -> Result<HeaderValue, PeerError> {
    let var = |name: &Option<String>, what: &str| -> Result<String, PeerError> {
        let name = name
            .as_deref()
            .ok_or_else(|| PeerError(format!("peer '{}' names no {what}", peer.name)))?;
        std::env::var(name).map_err(|_| {
            PeerError(format!(
                "environment variable {name} ({what} of peer '{}') is not set",
                peer.name
            ))
        })
    };
    let value = if peer.token_env.is_some() {
        format!("Bearer {}", var(&peer.token_env, "token_env")?)
    } else {
        let user = var(&peer.account_env, "account_env")?;
        let password = var(&peer.password_env, "password_env")?;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let mut v = HeaderValue::from_str(&value).map_err(|_| {
        PeerError(format!(
            "the credentials of peer '{}' hold characters a header cannot carry",
            peer.name
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// TLS trusting only the authorities of the peer's `ca_file`.
fn connector(peer: &PeerEntry) -> Result<TlsConnector, PeerError> {
    let file = peer.ca_file.as_deref().ok_or_else(|| {
        PeerError(format!(
            "peer '{}' is https and names no ca_file",
            peer.name
        ))
    })?;
    let pem =
        std::fs::read(file).map_err(|e| PeerError(format!("cannot read ca_file {file}: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert: CertificateDer<'static> =
            cert.map_err(|e| PeerError(format!("ca_file {file}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| PeerError(format!("ca_file {file}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(PeerError(format!("ca_file {file} holds no certificate")));
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PeerError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(
            split_authority("127.0.0.1:8443", 443),
            Some(("127.0.0.1".into(), 8443))
        );
        assert_eq!(
            split_authority("hub.example", 443),
            Some(("hub.example".into(), 443))
        );
        assert_eq!(
            split_authority("[::1]:9000", 443),
            Some(("::1".into(), 9000))
        );
        assert_eq!(split_authority("[::1]", 80), Some(("::1".into(), 80)));
        assert_eq!(split_authority("h:x", 80), None);
        assert_eq!(split_authority(":80", 80), None);
    }
}
