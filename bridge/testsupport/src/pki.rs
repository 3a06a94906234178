//! A certificate authority and a server certificate for 127.0.0.1 / localhost,
//! made at test time, plus a second CA that signed nothing (the "untrusted" one).

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub struct Pki {
    /// PEM of the CA that signed the server certificate.
    pub ca_file: PathBuf,
    /// PEM of a CA that did not sign it.
    pub other_ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair, CertificateParams) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.clone().self_signed(&key).expect("self-sign CA");
    (cert, key, params)
}

impl Pki {
    /// Writes `ca.crt`, `other-ca.crt`, `server.crt` and `server.key` into `dir`.
    pub fn generate(dir: &Path) -> Pki {
        let (ca_cert, ca_key, ca_params) = ca("authbridge test CA");
        let (other_cert, _, _) = ca("authbridge unrelated CA");
        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let issuer = Issuer::new(ca_params, ca_key);
        let server = params
            .signed_by(&server_key, &issuer)
            .expect("sign server certificate");

        let pki = Pki {
            ca_file: dir.join("ca.crt"),
            other_ca_file: dir.join("other-ca.crt"),
            cert_file: dir.join("server.crt"),
            key_file: dir.join("server.key"),
        };
        std::fs::write(&pki.ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&pki.other_ca_file, other_cert.pem()).unwrap();
        std::fs::write(&pki.cert_file, server.pem()).unwrap();
        std::fs::write(&pki.key_file, server_key.serialize_pem()).unwrap();
        pki
    }
}
