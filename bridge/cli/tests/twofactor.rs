//! Second factors end to end: `authbridge twofactorauth` with the seed's
//! sentences; TOTP codes from Debian's `oathtool` (an independent
//! implementation) and backup codes through the real libpam (pam_wrapper +
//! pamtester answering both prompts from stdin); the OCS API, `/auth/check` and
//! the enrolment page over a real socket. ssh with two prompts is in ssh.rs.

use authbridge_proto::{AuthRequest, Client, Request, Response};
use authbridge_testsupport::Daemon;
use authbridge_testsupport::pam::{AUTH_ERR, Pam, SUCCESS};
use reqwest::blocking::Client as Http;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

const ALICE: &str = "Alice-pass-123";
const BOB: &str = "Bob-pass-12345";
const CAROL: &str = "Carol-pass-1234";
const PROMPT: &str = "Verification code:";

/// alice, bob and carol (carol in staff), throttle delays short enough not to
/// get in the way of a test's wrong codes.
fn daemon(extra: &str) -> Daemon {
    let config = format!(
        "[throttle]\nfirst_delay = \"1ms\"\nmax_delay = \"2ms\"\n{extra}\n[http]\nlisten = \"127.0.0.1:0\"\n"
    );
    let d = Daemon::start_http(BIN, &config);
    for (uid, password) in [("alice", ALICE), ("bob", BOB), ("carol", CAROL)] {
        d.cli(&["user", "add", "--password-from-env", uid], Some(password));
    }
    d.cli(&["group", "add", "staff"], None);
    d.cli(&["group", "adduser", "staff", "carol"], None);
    d
}

fn cli(d: &Daemon, args: &[&str]) -> (bool, String) {
    let out = d.command().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `twofactorauth totp setup UID`; the base32 secret it printed.
fn set_up_totp(d: &Daemon, uid: &str) -> String {
    let out = d.cli(&["twofactorauth", "totp", "setup", uid], None);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Secret: "))
        .expect("a secret in the output")
        .to_owned()
}

fn backup_codes(d: &Daemon, uid: &str) -> Vec<String> {
    let out = d.cli(&["twofactorauth", "backup-codes", "generate", uid], None);
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    codes
}

/// oathtool's code for `secret`, `steps` time steps from now.
fn oathtool(secret: &str, steps: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = Command::new("oathtool")
        .args(["--totp", "--base32", secret, "--now"])
        .arg(format!("@{}", now + steps * 30))
        .output()
        .expect("oathtool (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pam_for(d: &Daemon, options: &str) -> Pam {
    let pam = Pam::new(BIN);
    pam.service(
        "ab",
        &format!(
            "auth required MODULE socket={} {options}\n",
            d.socket.display()
        ),
    );
    pam
}

fn login(pam: &Pam, user: &str, answers: &[&str]) -> (bool, String) {
    let stdin: String = answers.iter().map(|a| format!("{a}\n")).collect();
    let run = pam.run("ab", user, &["authenticate"], &stdin, &[]);
    (run.ok, run.output)
}

#[test]
fn the_cli_speaks_the_seeds_sentences() {
    let d = daemon("");
    d.cli(
        &["user", "add", "--password-from-env", "layla"],
        Some(ALICE),
    );
    let (ok, out) = cli(&d, &["twofactorauth:state", "layla"]);
    assert!(ok);
    assert_eq!(
        out,
        "Two-factor authentication is not enabled for user layla\nDisabled providers:\n- backup_codes\n- totp\n"
    );
    for g in ["finance", "service-accounts"] {
        d.cli(&["group", "add", g], None);
    }
    let enforce = |args: &[&str]| {
        let mut all = vec!["twofactorauth:enforce"];
        all.extend_from_slice(args);
        let (ok, out) = cli(&d, &all);
        assert!(ok, "{out}");
        out
    };
    assert_eq!(
        enforce(&["--on"]),
        "Two-factor authentication is enforced for all users\n"
    );
    assert_eq!(
        enforce(&[
            "--on",
            "--group=admin",
            "--group=finance",
            "--exclude=service-accounts"
        ]),
        "Two-factor authentication is enforced for members of the group(s) admin, finance\n"
    );
    assert_eq!(
        enforce(&[]),
        "Two-factor authentication is enforced for members of the group(s) admin, finance\n",
        "no options: the state"
    );
    assert_eq!(
        enforce(&["--off"]),
        "Two-factor authentication is not enforced\n"
    );
    assert_eq!(
        enforce(&["--on", "--exclude=service-accounts"]),
        "Two-factor authentication is enforced for all users, except members of service-accounts\n"
    );
    enforce(&["--off"]);

    let (ok, out) = cli(&d, &["twofactorauth:enable", "layla", "totp"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("Two-factor provider totp enabled for user layla.\nURI: otpauth://totp/authbridge:layla?secret="), "{out}");
    let (ok, out) = cli(&d, &["twofactorauth:state", "layla"]);
    assert!(ok);
    assert_eq!(
        out,
        "Two-factor authentication is enabled for user layla\nEnabled providers:\n- totp\nDisabled providers:\n- backup_codes\n"
    );
    let (ok, out) = cli(&d, &["twofactorauth:disable", "layla", "totp"]);
    assert!(ok);
    assert_eq!(out, "Two-factor provider totp disabled for user layla.\n");
    let (ok, out) = cli(&d, &["twofactorauth:cleanup", "totp"]);
    assert!(ok);
    assert_eq!(
        out,
        "All user-provider associations for provider totp have been removed.\n"
    );

    // Bad input: each refused with words, nothing changed.
    let (ok, out) = cli(&d, &["twofactorauth:enable", "layla", "u2f"]);
    assert!(
        !ok && out.contains("The provider 'u2f' does not exist"),
        "{out}"
    );
    let (ok, out) = cli(&d, &["twofactorauth:state", "nobody"]);
    assert!(!ok && out.contains("\"nobody\" does not exist"), "{out}");
    let (ok, out) = cli(&d, &["twofactorauth:enforce", "--on", "--group=nosuch"]);
    assert!(!ok && out.contains("\"nosuch\" does not exist"), "{out}");
    let (ok, out) = cli(&d, &["twofactorauth:enforce", "--group=admin"]);
    assert!(!ok && out.contains("--on"), "{out}");
    assert_eq!(
        enforce(&[]),
        "Two-factor authentication is not enforced\n",
        "refused commands changed nothing"
    );
    d.cli(&["twofactorauth", "totp", "setup", "layla"], None);
    let (ok, out) = cli(&d, &["twofactorauth", "totp", "setup", "layla"]);
    assert!(
        !ok && out.contains("--replace"),
        "an existing secret is kept: {out}"
    );
}

#[test]
fn pam_asks_for_a_code_after_the_password_and_takes_each_once() {
    let d = daemon("");
    let secret = set_up_totp(&d, "alice");
    let pam = pam_for(&d, "");

    let code = oathtool(&secret, 0);
    let (ok, out) = login(&pam, "alice", &[ALICE, &code]);
    assert!(ok && out.contains(SUCCESS), "{out}");
    assert!(out.contains(PROMPT), "the second prompt: {out}");

    let (ok, out) = login(&pam, "alice", &[ALICE, &code]);
    assert!(!ok && out.contains(AUTH_ERR), "a replayed code: {out}");
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let (ok, _) = login(&pam, "alice", &[ALICE, &wrong]);
    assert!(!ok, "a wrong code");
    let (ok, out) = login(&pam, "alice", &[ALICE, &oathtool(&secret, 1)]);
    assert!(ok, "the next step's code: {out}");
    let (ok, _) = login(&pam, "alice", &[ALICE, &oathtool(&secret, -1)]);
    assert!(!ok, "an older step than one already used");
    let (ok, out) = login(&pam, "alice", &["wrong-password", &oathtool(&secret, 0)]);
    assert!(
        !ok && !out.contains(PROMPT),
        "no code is asked after a wrong password: {out}"
    );

    let codes = backup_codes(&d, "alice");
    let (ok, out) = login(&pam, "alice", &[ALICE, &codes[0]]);
    assert!(ok, "a backup code: {out}");
    let (ok, _) = login(&pam, "alice", &[ALICE, &codes[0]]);
    assert!(!ok, "a used backup code");
    let log = d.log();
    assert!(log.contains("replayed"), "{log}");
    assert!(!log.contains(&code), "a code in the log");

    // A user without a second factor sees no second prompt.
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(ok && !out.contains(PROMPT), "{out}");

    // A lost phone: disabled, the password alone logs in again.
    d.cli(&["twofactorauth", "disable", "alice", "totp"], None);
    d.cli(&["twofactorauth", "cleanup", "backup_codes"], None);
    let (ok, out) = login(&pam, "alice", &[ALICE]);
    assert!(ok && !out.contains(PROMPT), "{out}");
}

#[test]
fn a_use_first_pass_stack_still_asks_for_the_code() {
    let d = daemon("");
    let secret = set_up_totp(&d, "alice");
    let pam = Pam::new(BIN);
    let l = |o: &str| format!("MODULE socket={} {o}", d.socket.display());
    // The first module prompts for the password only (twofactor=off refuses
    // alice's login password there, as `sufficient` lets the stack go on); the
    // second takes it from the stack and asks for the code.
    pam.service(
        "ab",
        &format!(
            "auth sufficient {}\nauth required {}\n",
            l("twofactor=off"),
            l("use_first_pass")
        ),
    );
    let (ok, out) = login(&pam, "alice", &[ALICE, &oathtool(&secret, 0)]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("Password:").count(), 1, "{out}");
    assert!(out.contains(PROMPT), "{out}");
}

#[test]
fn twofactor_off_lets_only_app_passwords_of_2fa_users_through() {
    let d = daemon("");
    set_up_totp(&d, "alice");
    let pam = pam_for(&d, "twofactor=off");
    let (ok, out) = login(&pam, "alice", &[ALICE]);
    assert!(!ok && out.contains("log in with an app password"), "{out}");
    assert!(!out.contains(PROMPT), "{out}");
    let app = d.app_password("alice");
    let (ok, out) = login(&pam, "alice", &[&app]);
    assert!(ok, "{out}");
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(ok, "{out}");

    // Where a code can be asked, an app password of a 2FA user needs one too.
    let pam = pam_for(&d, "");
    let (ok, out) = login(&pam, "alice", &[&app, "000000"]);
    assert!(!ok && out.contains(PROMPT), "{out}");
}

#[test]
fn twofactor_required_and_enforcement_refuse_users_with_nothing_set_up() {
    let d = daemon("");
    let pam = pam_for(&d, "twofactor=required");
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(!ok && out.contains(AUTH_ERR), "{out}");
    assert!(
        out.contains("no second factor is set up"),
        "told how to enrol: {out}"
    );
    assert!(out.contains("/twofactor/setup"), "{out}");

    let pam = pam_for(&d, "");
    d.cli(
        &["twofactorauth", "enforce", "--on", "--group", "staff"],
        None,
    );
    let (ok, out) = login(&pam, "carol", &[CAROL]);
    assert!(
        !ok && out.contains("no second factor is set up"),
        "enforced by group: {out}"
    );
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(ok, "not in an enforced group: {out}");

    d.cli(
        &["twofactorauth", "enforce", "--on", "--exclude", "staff"],
        None,
    );
    let (ok, out) = login(&pam, "carol", &[CAROL]);
    assert!(ok, "excluded: {out}");
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(
        !ok && out.contains("no second factor is set up"),
        "enforced for all: {out}"
    );

    // Backup codes alone satisfy enforcement.
    let codes = backup_codes(&d, "bob");
    let (ok, out) = login(&pam, "bob", &[BOB, &codes[3]]);
    assert!(ok && out.contains(PROMPT), "{out}");

    d.cli(&["twofactorauth", "enforce", "--off"], None);
    let (ok, out) = login(&pam, "carol", &[CAROL]);
    assert!(ok && !out.contains(PROMPT), "{out}");
}

#[test]
fn wrong_codes_count_in_the_throttle_like_wrong_passwords() {
    let config =
        "[throttle]\nfirst_delay = \"60s\"\nmax_delay = \"60s\"\n[http]\nenabled = false\n";
    let d = Daemon::start(BIN, config);
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some(ALICE),
    );
    let secret = set_up_totp(&d, "alice");
    let pam = pam_for(&d, "");
    // sshd's PasswordAuthentication answers every hidden prompt with the
    // password: refused by the module, and not counted as a wrong code.
    let (ok, out) = login(&pam, "alice", &[ALICE, ALICE]);
    assert!(!ok && out.contains(PROMPT), "{out}");
    let (ok, out) = login(&pam, "alice", &[ALICE, &oathtool(&secret, 0)]);
    assert!(ok, "not throttled: {out}");
    let code = oathtool(&secret, 1);
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let (ok, _) = login(&pam, "alice", &[ALICE, &wrong]);
    assert!(!ok);
    // Within the delay a failure earned, the right password and code are refused.
    let (ok, out) = login(&pam, "alice", &[ALICE, &code]);
    assert!(
        !ok && !out.contains(PROMPT),
        "throttled before the code: {out}"
    );
    assert!(d.log().contains("Throttled"), "{}", d.log());
}

#[test]
fn a_module_from_before_second_factors_is_refused_not_let_through() {
    let d = daemon("");
    set_up_totp(&d, "alice");
    let ask = |user: &str, password: &str| {
        let request = Request::AuthenticateStartedBy {
            request: AuthRequest {
                service: "sshd".into(),
                user: user.into(),
                password: password.to_owned().into(),
                rhost: None,
            },
            real_uid: 0,
        };
        Client::ask(&d.socket, Duration::from_secs(10), &request).unwrap()
    };
    match ask("alice", ALICE) {
        Response::Error(text) => assert!(text.contains("upgrade the module"), "{text}"),
        other => panic!("an old module's request for a 2FA user: {other:?}"),
    }
    match ask("alice", &d.app_password("alice")) {
        Response::Error(_) => {}
        other => panic!("an app password through an old module: {other:?}"),
    }
    match ask("bob", BOB) {
        Response::Auth(answer) => assert_eq!(answer.uid.as_deref(), Some("bob")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ticket_is_refused_from_another_uid() {
    use authbridge_proto::{Step, TwoFactorMode};
    let d = daemon("");
    let secret = set_up_totp(&d, "alice");
    let request = Request::AuthenticateTwoStep {
        request: AuthRequest {
            service: "sshd".into(),
            user: "alice".into(),
            password: ALICE.to_owned().into(),
            rhost: None,
        },
        real_uid: None,
        mode: TwoFactorMode::Optional,
    };
    let Response::Step(Step::Code { ticket }) =
        Client::ask(&d.socket, Duration::from_secs(10), &request).unwrap()
    else {
        panic!("a code should be asked");
    };
    // nobody (65534) presents root's ticket with the right code: refused, and
    // the ticket is gone for root too.
    let script = format!(
        "import socket,struct,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect({sock:?})\nbody=bytes.fromhex(sys.argv[1])\ns.sendall(struct.pack('>I',len(body))+body)\ns.shutdown(socket.SHUT_WR)\nprint(s.recv(4096).hex())\n",
        sock = d.socket.display().to_string()
    );
    let body = authbridge_proto::encode(&Request::SecondFactor {
        ticket,
        code: oathtool(&secret, 0).into(),
    })
    .unwrap();
    let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::set_permissions(
        d.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        &d.socket,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(&script)
        .arg(&hex)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer_hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let answer: Vec<u8> = (0..answer_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&answer_hex[i..i + 2], 16).unwrap())
        .collect();
    let answer: Response = authbridge_proto::decode(&answer[4..]).unwrap();
    assert!(
        matches!(answer, Response::Step(Step::Done(ref a)) if a.uid.is_none()),
        "{answer:?}"
    );
    let again = Client::ask(
        &d.socket,
        Duration::from_secs(10),
        &Request::SecondFactor {
            ticket,
            code: oathtool(&secret, 0).into(),
        },
    )
    .unwrap();
    assert!(
        matches!(again, Response::Step(Step::Done(ref a)) if a.uid.is_none()),
        "used up: {again:?}"
    );
}

fn ocs_get(d: &Daemon, user: &str, password: &str, path: &str) -> (u16, String) {
    let answer = Http::new()
        .get(format!("{}/ocs/v2.php{path}?format=json", d.url()))
        .basic_auth(user, Some(password))
        .header("OCS-APIRequest", "true")
        .send()
        .unwrap();
    (answer.status().as_u16(), answer.text().unwrap())
}

#[test]
fn http_takes_app_passwords_of_2fa_users_and_refuses_their_login_passwords() {
    let d = daemon("");
    set_up_totp(&d, "alice");
    let (status, body) = ocs_get(&d, "alice", ALICE, "/cloud/users/alice");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"statuscode\":997"), "{body}");
    assert!(body.contains("log in with an app password"), "{body}");
    let app = d.app_password("alice");
    let (status, body) = ocs_get(&d, "alice", &app, "/cloud/users/alice");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"two_factor_auth_enabled\":true"), "{body}");
    let (status, body) = ocs_get(&d, "bob", BOB, "/cloud/users/bob");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"two_factor_auth_enabled\":false"), "{body}");

    let check = |user: &str, password: &str| {
        Http::new()
            .get(format!("{}/auth/check", d.url()))
            .basic_auth(user, Some(password))
            .send()
            .unwrap()
    };
    let refused = check("alice", ALICE);
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        refused.headers()["X-Authbridge-Verdict"],
        "second-factor-required"
    );
    assert!(refused.text().unwrap().contains("app password"));
    let accepted = check("alice", &app);
    assert_eq!(accepted.status().as_u16(), 204);
    assert_eq!(accepted.headers()["X-Authbridge-User"], "alice");

    // Under enforcement without a provider, the words say how to enrol.
    d.cli(
        &["twofactorauth", "enforce", "--on", "--group", "staff"],
        None,
    );
    let (status, body) = ocs_get(&d, "carol", CAROL, "/cloud/users/carol");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("/twofactor/setup"), "{body}");
}

#[test]
fn a_user_sets_up_totp_on_the_page_and_from_then_on_needs_a_code() {
    let d = daemon("");
    let page = |method: reqwest::Method, user: &str, password: &str, code: Option<&str>| {
        let mut request = Http::new()
            .request(method, format!("{}/twofactor/setup", d.url()))
            .basic_auth(user, Some(password));
        if let Some(code) = code {
            request = request.form(&[("code", code)]);
        }
        let answer = request.send().unwrap();
        (answer.status().as_u16(), answer.text().unwrap())
    };
    let (status, _) = page(reqwest::Method::GET, "bob", "wrong-pass-123", None);
    assert_eq!(status, 401);
    let app = d.app_password("bob");
    let (status, body) = page(reqwest::Method::GET, "bob", &app, None);
    assert_eq!(status, 403, "not with an app password: {body}");

    let (status, body) = page(reqwest::Method::GET, "bob", BOB, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<svg"), "a QR code: {body}");
    let secret = body
        .split("secret=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("an otpauth URI with its secret")
        .to_owned();
    // Every showing makes a fresh secret: one planted before is gone.
    let (_, again) = page(reqwest::Method::GET, "bob", BOB, None);
    assert!(!again.contains(&secret), "a fresh waiting secret");
    let (status, _) = page(
        reqwest::Method::POST,
        "bob",
        BOB,
        Some(&oathtool(&secret, 0)),
    );
    assert_eq!(status, 422, "the replaced secret's code does not confirm");
    let (_, body) = page(reqwest::Method::GET, "bob", BOB, None);
    let secret = body
        .split("secret=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap()
        .to_owned();
    // Not on until confirmed.
    let pam = pam_for(&d, "");
    let (ok, out) = login(&pam, "bob", &[BOB]);
    assert!(ok && !out.contains(PROMPT), "{out}");

    let (status, body) = page(
        reqwest::Method::POST,
        "bob",
        BOB,
        Some(&oathtool(&secret, 0)),
    );
    assert_eq!(status, 200, "{body}");
    let codes: Vec<&str> = body
        .split("<li><code>")
        .skip(1)
        .filter_map(|c| c.split('<').next())
        .collect();
    assert_eq!(codes.len(), 10, "backup codes shown once: {body}");

    let (ok, out) = login(&pam, "bob", &[BOB, &oathtool(&secret, 1)]);
    assert!(ok && out.contains(PROMPT), "{out}");
    let (ok, out) = login(&pam, "bob", &[BOB, codes[0]]);
    assert!(ok, "a backup code from the page: {out}");
    let (status, body) = page(reqwest::Method::GET, "bob", BOB, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("A second factor is set up for bob") && !body.contains("otpauth"),
        "no secret shown again: {body}"
    );
    // Backup codes alone are a factor too: the password cannot replace them.
    d.cli(&["twofactorauth", "disable", "bob", "totp"], None);
    let (_, body) = page(reqwest::Method::GET, "bob", BOB, None);
    assert!(
        body.contains("A second factor is set up for bob") && !body.contains("otpauth"),
        "{body}"
    );
}

#[test]
fn wrong_codes_from_many_addresses_still_slow_down_that_user() {
    let d = daemon("");
    let secret = set_up_totp(&d, "alice");
    let pam = pam_for(&d, "");
    let from = |n: usize, code: &str| {
        let stdin = format!("{ALICE}\n{code}\n");
        let rhost = format!("rhost=192.0.2.{n}");
        let run = pam.run_with("ab", "alice", &["authenticate"], &stdin, &[], &[&rhost]);
        (run.ok, run.output)
    };
    let right = oathtool(&secret, 0);
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    // A right password between wrong codes, each from a fresh address: the
    // per-source throttle alone would never slow this down.
    for n in 0..authbridge_twofactor::FREE_CODE_FAILURES as usize {
        let (ok, _) = from(n, &wrong);
        assert!(!ok);
    }
    let (ok, out) = from(100, &right);
    assert!(!ok, "the right code waits after five wrong ones: {out}");
    assert!(
        d.log().contains("too many wrong codes for this user"),
        "{}",
        d.log()
    );
}
