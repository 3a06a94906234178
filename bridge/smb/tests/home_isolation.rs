//! The SMB child never reads the invoking user's ~/.smb: this process's HOME holds
//! an smb.conf that caps the client at SMB1, which the test server refuses; a
//! check that read it would fail.

use authbridge_core::{Accepted, Authenticator, Credentials, SecretString, Verdict};
use authbridge_smb::{ChildCommand, SmbBackend, SmbConfig};
use authbridge_testsupport::Smbd;

#[test]
fn the_users_home_smb_conf_is_not_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".smb")).unwrap();
    std::fs::write(
        home.path().join(".smb/smb.conf"),
        "[global]\n  client max protocol = NT1\n  client min protocol = NT1\n",
    )
    .unwrap();
    // SAFETY: this test binary holds only this test, and no other thread exists yet.
    unsafe { std::env::set_var("HOME", home.path()) };

    let s = Smbd::start(&[("alice", "alice-smb-pw")]);
    let config: SmbConfig = toml::from_str(&format!(
        "host = '127.0.0.1'\nport = {}\nshare = 'share'",
        s.port
    ))
    .unwrap();
    let command = ChildCommand {
        program: env!("CARGO_BIN_EXE_authbridge-smb-child").into(),
        args: vec![],
    };
    let backend = SmbBackend::new(config.resolve().unwrap(), command).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let creds = Credentials::new("alice", SecretString::from("alice-smb-pw".to_owned())).unwrap();
    let verdict = runtime.block_on(backend.authenticate(&creds));
    assert_eq!(
        verdict,
        Verdict::Accepted(Accepted {
            uid: "alice".into(),
            groups: vec![]
        })
    );
}
