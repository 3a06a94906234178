//! authbridge's IMAP check against the login Nextcloud's user_external performs
//! (libcurl, one handle per login, `imaps://host:port`, user and password, custom
//! request CAPABILITY), against the same local Dovecot in one run.
//!
//!     cargo bench -p authbridge-imap --bench imap_vs_libcurl [-- LOGINS]
//!
//! Prints p50 and p99 per login for both, and their ratio. The two are
//! interleaved login by login so that drift on the machine hits both alike.

use authbridge_core::{Authenticator, Credentials, SecretString, Verdict};
use authbridge_imap::{ImapBackend, ImapConfig};
use authbridge_testsupport::Dovecot;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn curl_login(url: &str, ca_file: &str, user: &str, password: &str) -> bool {
    let mut easy = curl::easy::Easy::new();
    easy.url(url).unwrap();
    easy.username(user).unwrap();
    easy.password(password).unwrap();
    easy.custom_request("CAPABILITY").unwrap();
    easy.cainfo(ca_file).unwrap();
    let mut transfer = easy.transfer();
    transfer.write_function(|data| Ok(data.len())).unwrap();
    transfer.perform().is_ok()
}

fn main() {
    let logins: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let server = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let ca_file = server.pki.ca_file.display().to_string();
    let config: ImapConfig = toml::from_str(&format!(
        "host = '127.0.0.1'\nport = {}\nsslmode = 'ssl'\nca_file = '{ca_file}'",
        server.imaps_port
    ))
    .unwrap();
    let backend = ImapBackend::new(config.resolve().unwrap()).unwrap();
    let url = format!("imaps://127.0.0.1:{}", server.imaps_port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let creds = Credentials::new("alice", SecretString::from("alice-mail-pw".to_owned())).unwrap();

    let ours = |creds: &Credentials| {
        let started = Instant::now();
        let verdict = runtime.block_on(backend.authenticate(creds));
        assert!(matches!(verdict, Verdict::Accepted(_)), "{verdict}");
        started.elapsed()
    };
    let theirs = || {
        let started = Instant::now();
        assert!(
            curl_login(&url, &ca_file, "alice", "alice-mail-pw"),
            "libcurl login failed"
        );
        started.elapsed()
    };

    for _ in 0..20 {
        ours(&creds);
        theirs();
    }
    let mut a = Vec::with_capacity(logins);
    let mut c = Vec::with_capacity(logins);
    for _ in 0..logins {
        a.push(ours(&creds));
        c.push(theirs());
    }
    a.sort();
    c.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("IMAP login against Dovecot over implicit TLS, {logins} logins each, interleaved");
    println!("{:<28} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    let (a50, a99, c50, c99) = (
        percentile(&a, 0.5),
        percentile(&a, 0.99),
        percentile(&c, 0.5),
        percentile(&c, 0.99),
    );
    println!(
        "{:<28} {:>9.2} {:>9.2}",
        "authbridge (imap crate)",
        ms(a50),
        ms(a99)
    );
    println!(
        "{:<28} {:>9.2} {:>9.2}",
        "libcurl (user_external)",
        ms(c50),
        ms(c99)
    );
    println!(
        "ratio authbridge/libcurl     {:>9.2} {:>9.2}",
        ms(a50) / ms(c50),
        ms(a99) / ms(c99)
    );
    println!("Dovecot saw {} logins", server.logins("alice"));
}
