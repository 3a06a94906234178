//! The store's TLS to PostgreSQL: the server's certificate is checked against
//! `ca_file` and the host name; a server that will not speak TLS is refused
//! when the URL asks for it.

use authbridge_store::{PostgresSettings, PostgresStore, Store, StoreError};
use authbridge_testsupport::Postgres;

fn settings(url: &str, ca: &std::path::Path) -> PostgresSettings {
    PostgresSettings {
        ca_file: Some(ca.to_owned()),
        timeout: std::time::Duration::from_secs(5),
        ..PostgresSettings::new(url)
    }
}

#[test]
fn a_certificate_from_the_named_ca_is_accepted_and_the_connection_is_tls() {
    let server = Postgres::start_tls();
    let pki = server.pki.as_ref().unwrap();
    let db = server.create_database();
    let name = db.rsplit('/').next().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!(
            "postgresql://postgres@{host}:{}/{name}?sslmode=require",
            server.port
        );
        let store = PostgresStore::open(&settings(&url, &pki.ca_file)).unwrap();
        assert!(store.group_exists("admin").unwrap());
        // The store keeps its connection: the server says it is encrypted.
        assert_ne!(
            server.psql(
                name,
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE s.ssl AND a.application_name = 'authbridge'"
            ),
            "0",
            "{host}"
        );
    }
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let server = Postgres::start_tls();
    let pki = server.pki.as_ref().unwrap();
    let db = server.create_database();
    let url = format!("{db}?sslmode=require").replace("127.0.0.1", "localhost");
    let err = PostgresStore::open(&settings(&url, &pki.other_ca_file))
        .err()
        .expect("refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn a_server_without_tls_is_refused_when_the_url_asks_for_it() {
    let server = authbridge_testsupport::postgres::shared();
    let db = server.create_database();
    let err = PostgresStore::open(&settings(
        &format!("{db}?sslmode=require"),
        std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"),
    ))
    .err()
    .expect("refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}
