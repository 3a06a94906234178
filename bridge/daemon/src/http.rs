//! Serving the OCS API over TCP: plain HTTP, or HTTPS (rustls) when the config
//! names a certificate and key, both through hyper with a bounded number of
//! connections and a deadline for each request's headers. Both stop accepting
//! when `stopped` turns true and let requests in flight finish. With HTTPS,
//! SIGHUP reads the certificate and key again (a renewed certificate needs no
//! restart).

use axum::Router;
use axum::extract::ConnectInfo;
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

/// How many connections and how long a client may take to send its headers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
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
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            refused += 1;
            // One line per hundred refusals: a flood must not flood the log.
            if refused % 100 == 1 {
                tracing::warn!(%peer, refused, "HTTP connection refused: {} connections open", limits.max_connections);
            }
            drop(tcp);
            continue;
        };
        let (app, watcher, tls) = (app.clone(), connections.watcher(), tls.clone());
        // Each connection in its own task: a slow client holds up nobody else.
        tokio::spawn(async move {
            let _place = place;
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(request)
                },
            );
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            match tls {
                Some(tls) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_timeout, tls.acceptor().accept(tcp))
                            .await
                    else {
                        return;
                    };
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
                None => {
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}
