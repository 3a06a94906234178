//! Serving the OCS API over TCP: plain HTTP, or HTTPS (rustls) when the config
//! names a certificate and key, both through hyper with a bounded number of
//! connections and a deadline for each request's headers. Both stop accepting
//! when `stopped` turns true and let requests in flight finish. With HTTPS,
//! SIGHUP reads the certificate and key again (a renewed certificate needs no
//! restart).

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {path}: {detail}")]
    Tls { path: String, detail: String },
}

/// The certificate and key files and the rustls config made from them.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: std::sync::RwLock<Arc<rustls::ServerConfig>>,
}

impl Tls {
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, HttpError> {
        Ok(Tls {
            current: std::sync::RwLock::new(tls_config(cert, key)?),
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Reads the files again; on any error the loaded certificate stays.
    pub fn reload(&self) -> Result<(), HttpError> {
        let fresh = tls_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self.current.read().unwrap_or_else(|p| p.into_inner());
        tokio_rustls::TlsAcceptor::from(Arc::clone(&config))
    }
}

/// A rustls server config from PEM files.
fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, HttpError> {
    let err = |path: &Path, detail: String| HttpError::Tls {
        path: path.display().to_string(),
        detail,
    };
    let read = |path: &Path| std::fs::read(path).map_err(|e| err(path, e.to_string()));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(err(cert, "no certificate in the file".into()));
    }
    let key_der = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| err(key, e.to_string()))?
        .ok_or_else(|| err(key, "no private key in the file".into()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err(cert, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key_der)
    .map_err(|e| err(cert, e.to_string()))?;
    Ok(Arc::new(config))
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })
}

/// Returns once `stopped` is true (or its sender is gone).
async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    loop {
        let stop = *stopped.borrow_and_update();
        if stop || stopped.changed().await.is_err() {
            return;
        }
    }
}

/// How many connections, how many from one client, and how long a client may
/// take to send its headers and to be answered.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    /// Per client address (an IPv6 client by its /64); trusted proxies, which
    /// carry everyone's requests, only count against `max_connections`.
    pub max_connections_per_client: usize,
    pub header_timeout: Duration,
    /// The whole request, body included, must be read and answered within this.
    pub request_timeout: Duration,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Connections open per client, so that one client cannot take every place.
#[derive(Default)]
struct PerClient(std::sync::Mutex<std::collections::HashMap<String, usize>>);

/// One client's place; given back when it drops.
struct ClientPlace {
    open: Arc<PerClient>,
    client: Option<String>,
}

impl PerClient {
    fn take(self: &Arc<Self>, client: Option<String>, limit: usize) -> Option<ClientPlace> {
        if let Some(key) = &client {
            let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let n = open.entry(key.clone()).or_default();
            if *n >= limit {
                return None;
            }
            *n += 1;
        }
        Some(ClientPlace {
            open: Arc::clone(self),
            client,
        })
    }
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        if let Some(key) = &self.client {
            let mut open = self.open.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

/// Serves `app` until `stopped` is true, over plain HTTP or TLS. Each connection
/// takes one of `limits.max_connections` places (none free: closed at once), and
/// must send its headers (and finish its handshake) within `limits.header_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Tls>,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) {
    let tls = tls.map(Arc::new);
    let mut hangup = match &tls {
        Some(_) => match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "cannot watch SIGHUP; the TLS certificate will not be reloaded: {e}"
                );
                None
            }
        },
        None => None,
    };
    let places = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let per_client = Arc::new(PerClient::default());
    // Connections are watched so that, once stopped, each finishes the request it
    // is serving and then closes.
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let stop = until_stopped(stopped);
    tokio::pin!(stop);
    let mut refused: u64 = 0;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
            Some(()) = async { hangup.as_mut()?.recv().await } => {
                if let Some(tls) = &tls {
                    match tls.reload() {
                        Ok(()) => tracing::info!(cert = %tls.cert.display(), "reloaded the TLS certificate"),
                        Err(e) => tracing::warn!("TLS reload failed, the loaded certificate stays: {e}"),
                    }
                }
                continue;
            }
        };
        let client = (!limits.trusted_proxies.contains(&peer.ip()))
            .then(|| crate::ocs::throttle_source(peer.ip()));
        let places = Arc::clone(&places)
            .try_acquire_owned()
            .ok()
            .zip(per_client.take(client, limits.max_connections_per_client.max(1)));
        let Some(place) = places else {
            refused += 1;
            // One line per hundred refusals: a flood must not flood the log.
            if refused % 100 == 1 {
                tracing::warn!(%peer, refused, "HTTP connection refused: no place left (in total or for this client)");
            }
            drop(tcp);
            continue;
        };
        let (app, watcher, tls) = (app.clone(), connections.watcher(), tls.clone());
        let (header_timeout, request_timeout) = (limits.header_timeout, limits.request_timeout);
        // Each connection in its own task: a slow client holds up nobody else.
        tokio::spawn(async move {
            let _place = place;
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let answer = app.clone().oneshot(request);
                    async move {
                        // Body and answer within the deadline: a trickled body
                        // holds its place no longer.
                        match tokio::time::timeout(request_timeout, answer).await {
                            Ok(answered) => answered,
                            Err(_) => Ok(StatusCode::REQUEST_TIMEOUT.into_response()),
                        }
                    }
                },
            );
            // HTTP/1.1 only: the header deadline then runs from the first byte
            // awaited, also on a connection that never sends one.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            match tls {
                Some(tls) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(header_timeout, tls.acceptor().accept(tcp)).await
                    else {
                        return;
                    };
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                }
                None => {
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                    let _ = watcher.watch(connection).await;
                }
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}
