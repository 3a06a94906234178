//! TLS client settings shared by the IMAP and FTP backends (rustls).
//!
//! Certificates are validated against the system store, or only against a CA file
//! the backend names. Switching validation off must be said in the config in words
//! (`tls_verify = false` or IMAP's `/novalidate-cert`); it still requires a correct
//! handshake signature, it only stops trusting the certificate chain.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `ca_file` and `tls_verify` of a backend section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Trust only the certificates in this PEM file instead of the system store.
    pub ca_file: Option<PathBuf>,
    /// Validate the server's certificate (default true).
    pub tls_verify: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_file: None,
            tls_verify: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {0} holds no usable certificate")]
    EmptyCaFile(PathBuf),
    #[error("the system certificate store holds no usable certificate")]
    EmptySystemStore,
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{host:?} is not a valid TLS server name: {reason}")]
    ServerName { host: String, reason: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let pem = std::fs::read(path).map_err(|source| TlsConfigError::CaFile {
        path: path.to_owned(),
        source,
    })?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|source| TlsConfigError::CaFile {
            path: path.to_owned(),
            source,
        })?;
        // A malformed certificate in the file is skipped; an empty result is an error below.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsConfigError::EmptyCaFile(path.to_owned()));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsConfigError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsConfigError::EmptySystemStore);
    }
    Ok(roots)
}

impl TlsSettings {
    /// Builds the rustls client configuration once, at start-up: loading the system
    /// store for every login would cost more than the login itself.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsConfigError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = if self.tls_verify {
            let roots = match &self.ca_file {
                Some(path) => roots_from_file(path)?,
                None => system_roots()?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

/// The server name to check the certificate against: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsConfigError> {
    ServerName::try_from(host.to_owned()).map_err(|e| TlsConfigError::ServerName {
        host: host.to_owned(),
        reason: e.to_string(),
    })
}

/// Accepts any certificate chain, but still checks the handshake signature.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
