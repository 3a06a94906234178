//! Serving the OCS API over TCP: plain HTTP through axum, or HTTPS (rustls) when
//! the config names a certificate and key. Both stop accepting when `stopped`
//! turns true and let requests in flight finish. With HTTPS, SIGHUP reads the
//! certificate and key again (a renewed certificate needs no restart).

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

/// Serves `app` until `stopped` is true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Tls>,
    stopped: watch::Receiver<bool>,
) {
    let Some(tls) = tls else {
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, make)
            .with_graceful_shutdown(until_stopped(stopped))
            .await
        {
            tracing::error!("the OCS API stopped: {e}");
        }
        return;
    };
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot watch SIGHUP; the TLS certificate will not be reloaded: {e}");
            None
        }
    };
    // Connections are watched so that, once stopped, each finishes the request it
    // is serving and then closes (as axum's graceful shutdown does for plain HTTP).
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let stop = until_stopped(stopped);
    tokio::pin!(stop);
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
                match tls.reload() {
                    Ok(()) => tracing::info!(cert = %tls.cert.display(), "reloaded the TLS certificate"),
                    Err(e) => tracing::warn!("TLS reload failed, the loaded certificate stays: {e}"),
                }
                continue;
            }
        };
        let (acceptor, app, watcher) = (tls.acceptor(), app.clone(), connections.watcher());
        // Each handshake in its own task: a slow client holds up nobody else.
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(request)
                },
            );
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = watcher.watch(connection).await;
        });
    }
    drop(listener);
    connections.shutdown().await;
}
