//! The OCS Provisioning API over a real socket (reqwest against `authbridge
//! serve`), for what the fixtures cannot say. Every documented status code of
//! every endpoint, per role, in v1 and v2, XML and JSON, is a fixture under
//! `fixtures/`, which `cargo test -p ocs-conformance --test authbridge` replays
//! against authbridge. Here: answers the documents leave open (codes they do not
//! list, authbridge's own choices in `bridge/daemon/OCS-DIFFERENCES.md`), requests
//! a conformance run never sends (the admin locking itself out), and what takes
//! more than requests and answers: TLS and its reload, signals, nginx, store
//! failures, proxies and the throttle, mail and password links, timing and
//! memory, logs, the CLI.
//!
//! Requests are ocs-conformance's (`Outgoing`, `Variant`), sent as its `Client`
//! sends them (`OCS-APIRequest`, `format=` and `Accept`) but blocking, and read
//! into the raw body and JSON data these tests look at (the conformance client
//! parses answers into its own tree for comparing with fixtures).

use authbridge_testsupport::{ClosedPort, Daemon, Smtp, eventually, free_port, wait_for_port};
use ocs_conformance::{Api as Version, Format, Outgoing, Variant};
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

const V1_XML: Variant = Variant {
    api: Version::V1,
    format: Format::Xml,
};
const V1_JSON: Variant = Variant {
    api: Version::V1,
    format: Format::Json,
};
const V2_XML: Variant = Variant {
    api: Version::V2,
    format: Format::Xml,
};
const V2_JSON: Variant = Variant {
    api: Version::V2,
    format: Format::Json,
};
/// v1 and v2, XML and JSON.
const EVERY_VARIANT: [Variant; 4] = [V1_XML, V1_JSON, V2_XML, V2_JSON];

/// What came back: HTTP status, meta statuscode, and the data (JSON answers only).
#[derive(Debug)]
struct Answer {
    http: u16,
    content_type: String,
    statuscode: u32,
    data: Value,
    body: String,
}

impl Answer {
    /// Not an OCS success (100 in v1, 200 in v2).
    fn refused(&self) -> bool {
        !matches!(self.statuscode, 100 | 200)
    }
}

fn meta_code(body: &str) -> u32 {
    if body.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(body).unwrap();
        return v["ocs"]["meta"]["statuscode"].as_u64().unwrap() as u32;
    }
    let start = body.find("<statuscode>").expect(body) + "<statuscode>".len();
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].parse().unwrap()
}

/// The HTTP status and meta statuscode `variant` shows for the OCS status
/// `status`, by Nextcloud's rule (`V1Response`, `V2Response`) in the default
/// `nextcloud` profile: v1 answers HTTP 200 (401 when not logged in); v2 shows
/// success as 200 and failures as HTTP 401 (997), 404 (998), 500 (996), 400
/// (any other code outside 200..=600) or the code itself.
fn shown(variant: Variant, status: u32) -> (u16, u32) {
    match (variant.api, status) {
        (_, 997) => (401, 997),
        (Version::V1, code) => (200, code),
        (Version::V2, 100) => (200, 200),
        (Version::V2, 998) => (404, 998),
        (Version::V2, 996) => (500, 996),
        (Version::V2, code) if !(200..=600).contains(&code) => (400, code),
        (Version::V2, code) => (code as u16, code),
    }
}

/// `answer` is the OCS status `status` as `variant` shows it.
fn expect(answer: &Answer, variant: Variant, status: u32, what: &str) {
    assert_eq!(
        (answer.http, answer.statuscode),
        shown(variant, status),
        "{what} ({variant}): {}",
        answer.body
    );
}

/// The names in a listing (`users`, `groups`), sorted.
fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

struct Api {
    d: Daemon,
    http: Client,
    admin: (String, String),
}

impl Api {
    /// With `[mail]` pointing at `smtp` (plain SMTP on loopback).
    fn with_mail(smtp: &Smtp) -> Api {
        Api::start(&format!(
            "[mail]\nrelay = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"authbridge <noreply@example.org>\"\n",
            smtp.port
        ))
    }

    fn start(config: &str) -> Api {
        let d = Daemon::start_http(BIN, config);
        let admin = (
            "admin".to_owned(),
            d.admin_password.clone().expect("first admin password"),
        );
        Api {
            d,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            admin,
        }
    }

    fn user(&self, uid: &str, password: &str, groups: &[&str]) {
        let mut args = vec!["user", "add", "--password-from-env"];
        for g in groups {
            args.extend(["-g", g]);
        }
        args.push(uid);
        self.d.cli(&args, Some(password));
    }

    /// Sends `request` as ocs-conformance's client does: `OCS-APIRequest`, the
    /// format by `format=` and `Accept`, a form body unless it is a GET.
    fn send(&self, request: &Outgoing, variant: Variant) -> Answer {
        let api = match variant.api {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        let (format, accept) = match variant.format {
            Format::Xml => ("xml", "application/xml"),
            Format::Json => ("json", "application/json"),
        };
        let url = format!("{}/ocs/{api}.php{}", self.d.url(), request.path);
        let mut query = request.query.clone();
        query.push(("format".into(), format.into()));
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .query(&query)
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, accept);
        if let Some((user, password)) = &request.credentials {
            builder = builder.basic_auth(user, Some(password));
        }
        if request.method != Method::GET {
            builder = builder.form(&request.form);
        }
        let response = builder.send().unwrap();
        let http = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.text().unwrap();
        let statuscode = meta_code(&body);
        let data = match variant.format {
            Format::Json => serde_json::from_str::<Value>(&body).unwrap()["ocs"]["data"].clone(),
            Format::Xml => Value::Null,
        };
        Answer {
            http,
            content_type,
            statuscode,
            data,
            body,
        }
    }

    /// Sends the request `make(n)` builds in each variant (`n` = 0..4 keeps ids
    /// apart) and expects the OCS status `status` from each.
    fn expect_in_every_variant(
        &self,
        status: u32,
        what: &str,
        mut make: impl FnMut(usize) -> Outgoing,
    ) {
        for (n, variant) in EVERY_VARIANT.into_iter().enumerate() {
            expect(&self.send(&make(n), variant), variant, status, what);
        }
    }

    fn admin(&self) -> (&str, &str) {
        (&self.admin.0, &self.admin.1)
    }
}

/// Codes the documents do not list for these endpoints, which no fixture may
/// expect (the coverage test refuses them outside `auth/`): Nextcloud's "not
/// found" (998), and authbridge's own answers where Nextcloud's differ
/// (OCS-DIFFERENCES.md: Nextcloud casts a bad limit to 0, shows anyone a reduced
/// profile, and answers a refused password with 107 or 403, by version).
#[test]
fn answers_the_documents_leave_open_in_every_variant() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.user("carl", "Carl-other-pass-1", &["others"]);
    let admin = api.admin();
    let bob = ("bob", "Bob-regular-pass-1");
    for (what, path, status) in [
        ("a missing user", "/cloud/users/ghost", 404),
        ("a unicode id", "/cloud/users/J%C3%BCrgen", 404),
        ("a slash in the id", "/cloud/users/a%2Fb", 404),
        ("a missing user's groups", "/cloud/users/ghost/groups", 998),
        ("a missing group's members", "/cloud/groups/nope", 404),
    ] {
        api.expect_in_every_variant(status, what, |_| Outgoing::get(path).as_user(admin));
    }
    api.expect_in_every_variant(101, "a limit that is no number", |_| {
        Outgoing::get("/cloud/users")
            .query("limit", "ten")
            .as_user(admin)
    });
    api.expect_in_every_variant(998, "another user's data", |_| {
        Outgoing::get("/cloud/users/carl").as_user(bob)
    });
    api.expect_in_every_variant(107, "one's own password, too weak", |_| {
        Outgoing::put("/cloud/users/bob")
            .form("key", "password")
            .form("value", "password")
            .as_user(bob)
    });
}

/// `[ocs] compat = "documented"` answers the documented codes where today's
/// Nextcloud differs (`ocs::compat` has the table; the conformance suite runs
/// every fixture in both profiles).
#[test]
fn the_documented_profile_answers_the_documented_codes() {
    let api = Api::start("[ocs]\ncompat = \"documented\"\n");
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.user("carl", "Carl-other-pass-1", &["others"]);
    let bob = ("bob", "Bob-regular-pass-1");
    let missing = Outgoing::get("/cloud/users/ghost").as_user(api.admin());
    let carl = Outgoing::get("/cloud/users/carl").as_user(bob);
    let unknown_key = Outgoing::put("/cloud/users/bob")
        .form("key", "colour")
        .form("value", "blue")
        .as_user(bob);
    for (request, variant, http, code, what) in [
        (&missing, V1_JSON, 200, 998, "a missing user"),
        (&missing, V2_XML, 404, 998, "a missing user"),
        // v1 says "forbidden" as "unauthorised" (with HTTP 200, as before).
        (&carl, V1_XML, 200, 997, "another user's data"),
        (&carl, V2_JSON, 403, 403, "another user's data"),
        (&unknown_key, V1_JSON, 200, 102, "a key nobody may set"),
    ] {
        let answer = api.send(request, variant);
        assert_eq!(
            (answer.http, answer.statuscode),
            (http, code),
            "{what} ({variant}): {}",
            answer.body
        );
    }
    let xml = api.send(&missing, V1_XML);
    assert!(
        xml.content_type.starts_with("text/xml"),
        "{}",
        xml.content_type
    );
}

/// The XML envelope is indented as Nextcloud's (fixtures compare data, not text).
#[test]
fn xml_answers_are_laid_out_as_nextclouds() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &[]);
    let request = Outgoing::get("/cloud/users")
        .query("search", "bob")
        .as_user(api.admin());
    let xml = api.send(&request, V1_XML).body;
    assert!(
        xml.contains("<users>\n   <element>bob</element>\n  </users>"),
        "{xml}"
    );
}

/// Requests a conformance run never sends, since on a server that got them wrong
/// they would lock the run's admin out: the admin neither disables nor deletes
/// itself, nor leaves or deletes the admin group, and stays an admin.
#[test]
fn the_admin_cannot_lock_itself_out() {
    let api = Api::start("");
    let admin = api.admin();
    api.expect_in_every_variant(101, "disabling oneself", |_| {
        Outgoing::put("/cloud/users/admin/disable").as_user(admin)
    });
    api.expect_in_every_variant(101, "deleting oneself", |_| {
        Outgoing::delete("/cloud/users/admin").as_user(admin)
    });
    api.expect_in_every_variant(105, "leaving the admin group", |_| {
        Outgoing::delete("/cloud/users/admin/groups")
            .form("groupid", "admin")
            .as_user(admin)
    });
    api.expect_in_every_variant(102, "deleting the admin group", |_| {
        Outgoing::delete("/cloud/groups/admin").as_user(admin)
    });
    let me = api.send(&Outgoing::get("/cloud/users/admin").as_user(admin), V2_JSON);
    expect(&me, V2_JSON, 100, "the admin's data");
    assert_eq!(
        (&me.data["enabled"], &me.data["groups"]),
        (&json!(true), &json!(["admin"])),
        "{}",
        me.body
    );
}

/// A refused create writes nothing: neither the user nor a group it names. (The
/// code of each refusal is its fixture's; an id of dots only cannot carry a
/// conformance run's prefix, so its code is checked here.)
#[test]
fn refused_user_creates_leave_nothing_behind() {
    let api = Api::start("");
    api.user("sub", "Sub-admin-pass-1", &["team"]);
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.d.cli(&["group", "add", "others"], None);
    let admin = api.admin();
    let sub = ("sub", "Sub-admin-pass-1");
    let promote = Outgoing::post("/cloud/users/sub/subadmins")
        .form("groupid", "team")
        .as_user(admin);
    expect(&api.send(&promote, V1_XML), V1_XML, 100, "promote");
    let good = "A-good-password-42";
    api.expect_in_every_variant(101, "an id of dots only", |_| {
        Outgoing::post("/cloud/users")
            .form("userid", "..")
            .form("password", good)
            .as_user(admin)
    });
    let add = |uid: &str| Outgoing::post("/cloud/users").form("userid", uid);
    let refused = [
        add("x4")
            .form("password", good)
            .form("groups[]", "nope")
            .as_user(admin),
        add("x5")
            .form("password", good)
            .form("groups[]", "others")
            .as_user(sub),
        add("x6").form("password", good).as_user(sub),
        add("x7").form("password", "password123").as_user(admin),
        add("x8").as_user(admin),
        add("x10")
            .form("password", good)
            .as_user(("bob", "wrong-password-1")),
    ];
    for request in &refused {
        for variant in EVERY_VARIANT {
            let answer = api.send(request, variant);
            assert!(answer.refused(), "{request:?} ({variant}): {}", answer.body);
        }
    }
    let users = api.send(&Outgoing::get("/cloud/users").as_user(admin), V2_JSON);
    assert_eq!(names(&users.data["users"]), ["admin", "bob", "sub"]);
    let groups = api.send(&Outgoing::get("/cloud/groups").as_user(admin), V2_JSON);
    assert_eq!(names(&groups.data["groups"]), ["admin", "others", "team"]);
    // No [mail]: the invitation cannot be sent. As in Nextcloud, the account
    // stands and the failure is logged (the documented profile refuses with 109
    // and keeps nothing: the conformance fixture users/add/109-invitation-mail-fails).
    let invited = add("x9").form("email", "x9@example.org").as_user(admin);
    expect(
        &api.send(&invited, V2_JSON),
        V2_JSON,
        100,
        "invited, mail not sent",
    );
    let users = api.send(&Outgoing::get("/cloud/users").as_user(admin), V2_JSON);
    assert_eq!(names(&users.data["users"]), ["admin", "bob", "sub", "x9"]);
    assert!(
        api.d
            .log()
            .contains("the invitation mail could not be sent"),
        "{}",
        api.d.log()
    );
}

/// authbridge's modules are its apps (OCS-DIFFERENCES.md), and switching one off
/// and on takes effect at once and lasts across a restart. (Listing, filtering and
/// switching an app are fixtures; no fixture asks `/cloud/apps` as a user, since
/// the wrong-server test answers that route with HTML for every fixture.)
#[test]
fn apps_are_authbridges_modules_and_switches_persist() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &[]);
    let admin = api.admin();
    let token = {
        let out = api.d.cli(&["user", "auth-tokens", "add", "bob"], None);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    let info = api.send(
        &Outgoing::get("/cloud/apps/user_imap").as_user(admin),
        V2_JSON,
    );
    expect(&info, V2_JSON, 100, "app info");
    assert_eq!(info.data["id"], "user_imap", "{}", info.body);
    api.expect_in_every_variant(998, "app info: unknown", |_| {
        Outgoing::get("/cloud/apps/files").as_user(admin)
    });
    api.expect_in_every_variant(403, "apps: not admin", |_| {
        Outgoing::get("/cloud/apps").as_user(("bob", "Bob-regular-pass-1"))
    });
    // App passwords work, then not once their module is off, then again.
    let by_token = || {
        let own = Outgoing::get("/cloud/users/bob").as_user(("bob", &token));
        api.send(&own, V2_JSON).http
    };
    assert_eq!(by_token(), 200);
    let switch_off = Outgoing::delete("/cloud/apps/app_passwords").as_user(admin);
    expect(&api.send(&switch_off, V2_JSON), V2_JSON, 100, "disable");
    assert_eq!(by_token(), 401);
    let disabled = api.send(
        &Outgoing::get("/cloud/apps")
            .query("filter", "disabled")
            .as_user(admin),
        V2_JSON,
    );
    assert_eq!(disabled.data["apps"], json!(["app_passwords"]));
    // Persisted: a restart keeps it off.
    let mut api = api;
    api.d.stop();
    api.d.restart();
    let admin = api.admin();
    let by_token = || {
        let own = Outgoing::get("/cloud/users/bob").as_user(("bob", &token));
        api.send(&own, V2_JSON).http
    };
    assert_eq!(by_token(), 401);
    let switch_on = Outgoing::post("/cloud/apps/app_passwords").as_user(admin);
    expect(&api.send(&switch_on, V2_JSON), V2_JSON, 100, "enable");
    assert_eq!(by_token(), 200);
    api.expect_in_every_variant(101, "disable the API itself", |_| {
        Outgoing::delete("/cloud/apps/provisioning_api").as_user(admin)
    });
    // The password policy can be switched off too.
    let policy_off = Outgoing::delete("/cloud/apps/password_policy").as_user(admin);
    expect(&api.send(&policy_off, V1_XML), V1_XML, 100, "policy off");
    api.expect_in_every_variant(100, "weak password without the policy", |n| {
        Outgoing::post("/cloud/users")
            .form("userid", &format!("weak{n}"))
            .form("password", "short")
            .as_user(admin)
    });
}

#[test]
fn bad_input_never_writes_and_never_fails_with_500() {
    let api = Api::start("");
    let admin = api.admin();
    let url = format!("{}/ocs/v2.php/cloud/users?format=json", api.d.url());
    let post = |body: Vec<u8>, api_request: bool| {
        let mut r = api
            .http
            .post(&url)
            .basic_auth(admin.0, Some(admin.1))
            .body(body);
        if api_request {
            r = r.header("OCS-APIRequest", "true");
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    // Without OCS-APIRequest: Nextcloud's answer.
    assert_eq!(
        post(b"userid=x&password=A-good-password-42".to_vec(), false),
        (412, r#"{"message":"CSRF check failed"}"#.to_owned())
    );
    // Over 1 MiB.
    let mut big = b"userid=big&password=A-good-password-42&displayName=".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    let (status, body) = post(big, true);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"statuscode\":101"), "{body}");
    // Malformed: not UTF-8, bad percent escapes.
    for body in [
        b"userid=\xff\xfe&password=x".to_vec(),
        b"userid=%FF%FE&password=A-good-password-42".to_vec(),
    ] {
        let (status, text) = post(body, true);
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("\"statuscode\":101"), "{text}");
    }
    // Unicode and percent-encoded ids: Nextcloud's id rules, and nothing written.
    let (status, text) = post(
        "userid=J%C3%BCrgen&password=A-good-password-42".into(),
        true,
    );
    assert_eq!(
        (status, text.contains("\"statuscode\":101")),
        (400, true),
        "{text}"
    );
    let users = api.send(&Outgoing::get("/cloud/users").as_user(admin), V2_JSON);
    assert_eq!(users.data["users"], json!(["admin"]));
    // Unknown route under the API: 404, not 500.
    let r = api
        .http
        .get(format!("{}/ocs/v3.php/cloud/users", api.d.url()))
        .header("OCS-APIRequest", "true")
        .basic_auth(admin.0, Some(admin.1))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[test]
fn auth_check_and_the_throttle() {
    let closed = ClosedPort::hold();
    let imap_port = closed.port;
    // example.org logins go to an IMAP server that is not there: unavailable.
    let api = Api::start(&format!(
        "[throttle]\nfirst_delay = \"1h\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {imap_port}\nsslmode = \"ssl\"\ndomain = \"example.org\"\n"
    ));
    api.user("bob", "Bob-regular-pass-1", &[]);
    let check = |user: &str, password: &str| {
        let r = api
            .http
            .get(format!("{}/auth/check", api.d.url()))
            .basic_auth(user, Some(password))
            .send()
            .unwrap();
        (
            r.status().as_u16(),
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    };
    // For nginx (?for=nginx): the same, except 403 for throttled and unavailable.
    let answer = |query: &str, user: &str, password: &str| {
        let r = api
            .http
            .get(format!("{}/auth/check{query}", api.d.url()))
            .basic_auth(user, Some(password))
            .send()
            .unwrap();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        (
            r.status().as_u16(),
            header("x-authbridge-verdict"),
            header("retry-after"),
        )
    };
    let verdict = |v: &str| Some(v.to_owned());
    assert_eq!(check("bob", "Bob-regular-pass-1"), (204, None));
    assert_eq!(
        answer("?for=nginx", "bob", "Bob-regular-pass-1"),
        (204, verdict("accepted"), None)
    );
    assert_eq!(check("carol@example.org", "whatever-pw"), (503, None));
    assert_eq!(
        answer("", "carol@example.org", "whatever-pw"),
        (503, verdict("unavailable"), None)
    );
    assert_eq!(
        answer("?for=nginx", "carol@example.org", "whatever-pw"),
        (403, verdict("unavailable"), None)
    );
    // An unknown asker is refused before any password is checked.
    assert_eq!(answer("?for=apache", "bob", "wrong-password-1").0, 400);
    let (status, challenge) = check("bob", "wrong-password-1");
    assert_eq!(status, 401);
    assert!(challenge.unwrap().starts_with("Basic realm="));
    // The next attempt from this address is throttled before any backend, with
    // how long the delay (an hour) has left.
    let (status, said, retry_after) = answer("", "bob", "Bob-regular-pass-1");
    assert_eq!((status, said), (429, verdict("throttled")));
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&seconds), "{seconds}");
    let (status, said, retry_after) = answer("?for=nginx", "bob", "Bob-regular-pass-1");
    assert_eq!((status, said), (403, verdict("throttled")));
    assert!(retry_after.is_some());
    assert_eq!(check("bob", "Bob-regular-pass-1").0, 429);
    let own = Outgoing::get("/cloud/users/bob").as_user(("bob", "Bob-regular-pass-1"));
    let a = api.send(&own, V1_JSON);
    assert_eq!((a.http, a.statuscode), (429, 429), "{}", a.body);
    let no_auth = api
        .http
        .get(format!("{}/auth/check", api.d.url()))
        .send()
        .unwrap();
    assert_eq!(no_auth.status().as_u16(), 401);
}

fn link_in(message: &str) -> String {
    let unfolded = message.replace("=\n", "").replace("=3D", "=");
    let start = unfolded.find("http://").expect(message);
    unfolded[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn welcome_and_reset_mails_arrive_and_their_links_work_once() {
    let smtp = Smtp::start();
    let api = Api::with_mail(&smtp);
    let admin = api.admin();
    // Created without a password: the welcome mail carries the link.
    let add = Outgoing::post("/cloud/users")
        .form("userid", "dora")
        .form("email", "dora@example.org")
        .as_user(admin);
    expect(&api.send(&add, V2_JSON), V2_JSON, 100, "add with welcome");
    let db = rusqlite::Connection::open(api.d.dir.path().join("data/authbridge.sqlite")).unwrap();
    let pending: bool = db
        .query_row(
            "SELECT welcome_pending FROM users WHERE uid = 'dora'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !pending,
        "the welcome mail went out: nothing is owed any more"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: dora@example.org"), "{}", mails[0]);
    let link = link_in(&mails[0]);
    let page = api.http.get(&link).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("Set the password of dora"));
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let set = |password: &str, again: &str| {
        let r = api
            .http
            .post(format!("{}/password/set", api.d.url()))
            .form(&[
                ("token", token.as_str()),
                ("password", password),
                ("password2", again),
            ])
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    // The policy applies on the page, and a refusal keeps the link alive.
    let (status, text) = set("short", "short");
    assert_eq!(status, 400, "{text}");
    let (status, _) = set("Dora-chose-this-1", "Dora-chose-this-2");
    assert_eq!(status, 400);
    assert_eq!(set("Dora-chose-this-1", "Dora-chose-this-1").0, 200);
    // Once only.
    assert_eq!(set("Dora-again-pass-2", "Dora-again-pass-2").0, 404);
    assert_eq!(api.http.get(&link).send().unwrap().status().as_u16(), 404);
    let own = Outgoing::get("/cloud/users/dora").as_user(("dora", "Dora-chose-this-1"));
    let a = api.send(&own, V2_JSON);
    expect(&a, V2_JSON, 100, "dora logs in with her own password");

    // A resend (also a reset, for any user with an address) mails a new link.
    let resend = Outgoing::post("/cloud/users/dora/welcome").as_user(admin);
    expect(&api.send(&resend, V2_JSON), V2_JSON, 100, "welcome");
    assert_eq!(smtp.messages().len(), 2);
    // A relay that is configured but down (the fixtures know only servers that
    // send mail and servers without [mail]).
    drop(smtp);
    api.expect_in_every_variant(102, "welcome: relay down", |_| resend.clone());
    // Created all the same, as in Nextcloud; `user welcome` sends the link later.
    api.expect_in_every_variant(100, "add: relay down", |n| {
        Outgoing::post("/cloud/users")
            .form("userid", &format!("fay{n}"))
            .form("email", "fay@example.org")
            .as_user(admin)
    });
    let users = api.send(
        &Outgoing::get("/cloud/users")
            .query("search", "fay")
            .as_user(admin),
        V2_JSON,
    );
    assert_eq!(
        users.data["users"],
        json!(["fay0", "fay1", "fay2", "fay3"]),
        "a failed invitation keeps the user"
    );
}

#[test]
fn the_cli_sends_a_reset_link() {
    let smtp = Smtp::start();
    let d = Daemon::start(
        BIN,
        &format!(
            "[mail]\nrelay = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"noreply@example.org\"\nbase_url = \"https://id.example.org\"\n",
            smtp.port
        ),
    );
    // As occ: an account added with an address gets its welcome mail at once.
    let out = d.cli(
        &[
            "user",
            "add",
            "--password-from-env",
            "--email",
            "gus@example.org",
            "gus",
        ],
        Some("Gus-old-password-1"),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("mailed to gus@example.org"), "{said}");
    assert_eq!(smtp.messages().len(), 1);
    d.cli(&["user", "welcome", "--reset-password", "gus"], None);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert!(
        link_in(&mails[1].replace("https://", "http://"))
            .starts_with("http://id.example.org/password/set?token="),
        "{}",
        mails[1]
    );
    // The old password no longer works.
    let out = d
        .command()
        .args(["check", "--password-from-env", "gus"])
        .env("AUTHBRIDGE_PASSWORD", "Gus-old-password-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // A relay that is down: the account is made all the same, and the command
    // says how to send the mail later.
    drop(smtp);
    let out = d
        .command()
        .args([
            "user",
            "add",
            "--generate-password",
            "--email",
            "hal@example.org",
            "hal",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("authbridge user welcome hal"), "{said}");
    let info = d.cli(&["user", "info", "hal"], None);
    assert!(String::from_utf8_lossy(&info.stdout).contains("user_id: hal"));
}

#[test]
fn https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = authbridge_testsupport::Pki::generate(dir.path());
    let d = Daemon::start_http(
        BIN,
        &format!(
            "[http]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            pki.cert_file.display(),
            pki.key_file.display()
        ),
    );
    assert!(d.log().contains("scheme=https"), "{}", d.log());
    let addr = d.http.unwrap();
    let password = d.admin_password.clone().unwrap();
    let curl = |ca: &std::path::Path, scheme: &str| {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
                "--cacert",
            ])
            .arg(ca)
            .args(["-u", &format!("admin:{password}")])
            .arg(format!("{scheme}://127.0.0.1:{}/auth/check", addr.port()))
            .output()
            .unwrap()
    };
    let ok = curl(&pki.ca_file, "https");
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "204");
    // A client that does not trust the CA gets no answer; plain HTTP gets none either.
    let untrusted = curl(&pki.other_ca_file, "https");
    assert_eq!(String::from_utf8_lossy(&untrusted.stdout), "000");
    let plain = curl(&pki.ca_file, "http");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "000");
}

/// A login against an IMAP server that never answers is in flight when SIGTERM
/// comes: over plain HTTP and over HTTPS the answer still arrives (the backend's
/// 3 s timeout: 503), then the daemon exits 0.
#[test]
fn sigterm_lets_requests_in_flight_finish_over_http_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = authbridge_testsupport::Pki::generate(dir.path());
    for scheme in ["http", "https"] {
        let silent = authbridge_testsupport::SilentServer::start();
        let mut config = format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ntimeout = \"3s\"\n",
            silent.port
        );
        if scheme == "https" {
            config.push_str(&format!(
                "[http]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                pki.cert_file.display(),
                pki.key_file.display()
            ));
        }
        let mut d = Daemon::start_http(BIN, &config);
        let url = format!("{scheme}://127.0.0.1:{}/auth/check", d.http.unwrap().port());
        let ca = pki.ca_file.clone();
        let pending = std::thread::spawn(move || {
            let out = std::process::Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "20",
                    "--cacert",
                ])
                .arg(ca)
                .args(["-u", "fay:some-password", &url])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        });
        assert!(
            eventually(Duration::from_secs(10), || silent.connections() > 0),
            "{scheme}: the login never reached the backend"
        );
        d.signal(libc::SIGTERM);
        assert_eq!(pending.join().unwrap(), "503", "{scheme}: {}", d.log());
        assert_eq!(
            d.stop().map(|s| s.code()),
            Some(Some(0)),
            "{scheme}: {}",
            d.log()
        );
    }
}

/// A renewed certificate takes effect on SIGHUP, without a restart; a broken one
/// is refused and the loaded certificate stays.
#[test]
fn sighup_reloads_the_tls_certificate() {
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = authbridge_testsupport::Pki::generate(first_dir.path());
    let second = authbridge_testsupport::Pki::generate(second_dir.path());
    let live = tempfile::tempdir().unwrap();
    let (cert, key) = (live.path().join("cert.pem"), live.path().join("key.pem"));
    std::fs::copy(&first.cert_file, &cert).unwrap();
    std::fs::copy(&first.key_file, &key).unwrap();
    let d = Daemon::start_http(
        BIN,
        &format!(
            "[http]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let password = d.admin_password.clone().unwrap();
    let url = format!("https://127.0.0.1:{}/auth/check", d.http.unwrap().port());
    let curl = |ca: &std::path::Path| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
                "--cacert",
            ])
            .arg(ca)
            .args(["-u", &format!("admin:{password}"), &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(&first.ca_file), "204");
    assert_eq!(curl(&second.ca_file), "000");

    let reloads = |d: &Daemon| d.log().matches("reloaded the TLS certificate").count();
    std::fs::copy(&second.cert_file, &cert).unwrap();
    std::fs::copy(&second.key_file, &key).unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(10), || reloads(&d) > 0),
        "{}",
        d.log()
    );
    assert_eq!(curl(&second.ca_file), "204", "{}", d.log());
    assert_eq!(curl(&first.ca_file), "000");

    std::fs::write(&key, "not a key").unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(10), || d
            .log()
            .contains("TLS reload failed")),
        "{}",
        d.log()
    );
    assert_eq!(curl(&second.ca_file), "204", "the loaded certificate stays");
}

/// The README's nginx recipe: the ```nginx block between its `nginx-recipe`
/// markers, the very text the test below runs.
fn nginx_recipe() -> &'static str {
    let readme = include_str!("../../../README.md");
    let (_, after) = readme
        .split_once("<!-- nginx-recipe:")
        .expect("the README's nginx-recipe marker");
    let (block, _) = after
        .split_once("<!-- /nginx-recipe -->")
        .expect("the README's /nginx-recipe marker");
    let (_, body) = block
        .split_once("```nginx\n")
        .expect("an nginx block between the markers");
    body.split_once("```").expect("the block's end").0
}

/// What a client of nginx sees: status, `WWW-Authenticate` headers, `Retry-After`, body.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    challenges: usize,
    retry_after: Option<String>,
    body: String,
}

/// Debian's nginx runs the README's recipe in front of a protected upstream; the
/// client sees each verdict of /auth/check as a status it understands.
#[test]
fn nginx_recipe_answers_each_verdict() {
    let closed = ClosedPort::hold();
    // example.org logins go to an IMAP server that is not there: unavailable. One
    // failure throttles the next attempt for an hour.
    let api = Api::start(&format!(
        "[throttle]\nfirst_delay = \"1h\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ndomain = \"example.org\"\n",
        closed.port
    ));
    api.user("bob", "Bob-regular-pass-1", &[]);
    let recipe = nginx_recipe();
    let authbridge = "http://127.0.0.1:8080/";
    assert_eq!(recipe.matches(authbridge).count(), 1, "{recipe}");
    let recipe = recipe.replace(authbridge, &format!("http://{}/", api.d.http.unwrap()));
    let dir = authbridge_testsupport::server_dir("abnginx");
    let (port, upstream) = (free_port(), free_port());
    let d = dir.path().display();
    // The recipe's `backend` answers whom nginx says the request is from.
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/t1;\nproxy_temp_path {d}/t2;\nfastcgi_temp_path {d}/t3;\n\
         uwsgi_temp_path {d}/t4;\nscgi_temp_path {d}/t5;\n\
         upstream backend {{\n server 127.0.0.1:{upstream};\n}}\n\
         server {{\n listen 127.0.0.1:{upstream};\n location / {{\n  return 200 \"hello $http_x_remote_user\\n\";\n }}\n}}\n\
         server {{\n listen 127.0.0.1:{port};\n{recipe}}}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut nginx = std::process::Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        // One process (master_process off), and no inherited stdout: nothing of
        // nginx outlives the test or holds its output open.
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx (apt-get install nginx-light)");
    wait_for_port("127.0.0.1", port, Duration::from_secs(10));
    let get = |auth: Option<(&str, &str)>| {
        // A client's own X-Remote-User never reaches the upstream.
        let mut r = api
            .http
            .get(format!("http://127.0.0.1:{port}/page"))
            .header("X-Remote-User", "mallory");
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        let r = r.send().unwrap();
        Seen {
            status: r.status().as_u16(),
            challenges: r.headers().get_all("www-authenticate").iter().count(),
            retry_after: r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: r.text().unwrap(),
        }
    };
    // In this order: only the wrong password counts towards the throttle.
    let accepted = get(Some(("bob", "Bob-regular-pass-1")));
    let unavailable = get(Some(("carol@example.org", "whatever-pw")));
    let anonymous = get(None);
    let wrong = get(Some(("bob", "not-bobs-password")));
    let throttled = get(Some(("bob", "Bob-regular-pass-1")));
    let _ = nginx.kill();
    let _ = nginx.wait();
    let error_log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert_eq!(
        (accepted.status, accepted.challenges, accepted.body.as_str()),
        (200, 0, "hello bob\n"),
        "{accepted:?}\n{error_log}"
    );
    assert_eq!(
        (
            unavailable.status,
            unavailable.challenges,
            &unavailable.retry_after
        ),
        (503, 0, &None),
        "{unavailable:?}\n{error_log}"
    );
    assert_eq!(
        (anonymous.status, anonymous.challenges),
        (401, 1),
        "{anonymous:?}"
    );
    assert_eq!((wrong.status, wrong.challenges), (401, 1), "{wrong:?}");
    assert_eq!(
        (throttled.status, throttled.challenges),
        (429, 0),
        "{throttled:?}\n{error_log}"
    );
    let seconds: u64 = throttled
        .retry_after
        .as_deref()
        .expect("Retry-After on a throttled answer")
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&seconds), "{throttled:?}");
    // Nothing went through nginx's "unexpected status" path (a 500).
    assert!(!error_log.contains("unexpected status"), "{error_log}");
}

/// The "unknown failure" codes, provoked for real: the test makes the store refuse
/// writes with triggers (and loses a table for reads) behind the daemon's back.
#[test]
fn store_failures_give_the_documented_failure_codes() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.d.cli(&["group", "add", "other"], None);
    let admin = api.admin();
    let db = rusqlite::Connection::open(api.d.dir.path().join("data/authbridge.sqlite")).unwrap();
    let refuse = |table: &str, op: &str| {
        db.execute_batch(&format!(
            "CREATE TRIGGER refuse_{op}_{table} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ))
        .unwrap();
    };
    refuse("users", "INSERT");
    refuse("groups", "INSERT");
    refuse("memberships", "INSERT");
    refuse("memberships", "DELETE");
    refuse("subadmins", "INSERT");
    api.expect_in_every_variant(103, "add user: unknown error", |n| {
        Outgoing::post("/cloud/users")
            .form("userid", &format!("z{n}"))
            .form("password", "A-good-password-42")
            .as_user(admin)
    });
    api.expect_in_every_variant(103, "create group: failed", |n| {
        Outgoing::post("/cloud/groups")
            .form("groupid", &format!("g{n}"))
            .as_user(admin)
    });
    api.expect_in_every_variant(105, "add to group: failed", |_| {
        Outgoing::post("/cloud/users/bob/groups")
            .form("groupid", "other")
            .as_user(admin)
    });
    api.expect_in_every_variant(105, "remove from group: failed", |_| {
        Outgoing::delete("/cloud/users/bob/groups")
            .form("groupid", "team")
            .as_user(admin)
    });
    api.expect_in_every_variant(103, "promote: unknown failure", |_| {
        Outgoing::post("/cloud/users/bob/subadmins")
            .form("groupid", "team")
            .as_user(admin)
    });
    // Reads that fail: the subadmins table is gone.
    db.execute_batch("DROP TABLE subadmins").unwrap();
    api.expect_in_every_variant(103, "demote: unknown failure", |_| {
        Outgoing::delete("/cloud/users/bob/subadmins")
            .form("groupid", "team")
            .as_user(admin)
    });
    api.expect_in_every_variant(102, "subadmin groups: unknown failure", |_| {
        Outgoing::get("/cloud/users/bob/subadmins").as_user(admin)
    });
    api.expect_in_every_variant(102, "group subadmins: unknown failure", |_| {
        Outgoing::get("/cloud/groups/team/subadmins").as_user(admin)
    });
    // The store's own words (here the trigger's) go to the log, not to the client.
    let refused = Outgoing::post("/cloud/groups")
        .form("groupid", "g9")
        .as_user(admin);
    let answer = api.send(&refused, V1_XML);
    expect(&answer, V1_XML, 103, "create group: failed");
    assert!(
        !answer.body.contains("refused by the test"),
        "{}",
        answer.body
    );
    assert!(
        api.d.log().contains("refused by the test"),
        "{}",
        api.d.log()
    );
}

/// A store that fails to read is a server error (996, HTTP 500 in v2), never a
/// wrong answer: not "no such group", not an empty list, not "no such user".
#[test]
fn store_read_failures_are_server_errors_not_wrong_answers() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    let admin = api.admin();
    let db = rusqlite::Connection::open(api.d.dir.path().join("data/authbridge.sqlite")).unwrap();
    // The groups table goes missing behind the daemon's back; memberships stay.
    db.execute_batch("ALTER TABLE groups RENAME TO groups_gone")
        .unwrap();
    let calls = [
        (
            "add to a group",
            Outgoing::post("/cloud/users/bob/groups").form("groupid", "team"),
        ),
        ("list groups", Outgoing::get("/cloud/groups")),
        ("a group's members", Outgoing::get("/cloud/groups/team")),
    ];
    for (what, request) in calls {
        api.expect_in_every_variant(996, what, |_| request.clone().as_user(admin));
    }
    api.expect_in_every_variant(996, "create a user in a group", |n| {
        Outgoing::post("/cloud/users")
            .form("userid", &format!("y{n}"))
            .form("password", "A-good-password-42")
            .form("groups[]", "team")
            .as_user(admin)
    });
    db.execute_batch("ALTER TABLE groups_gone RENAME TO groups")
        .unwrap();
    // The profile table this time: a user that exists is shown whole or not at all.
    db.execute_batch("ALTER TABLE profile RENAME TO profile_gone")
        .unwrap();
    api.expect_in_every_variant(996, "a user's data", |_| {
        Outgoing::get("/cloud/users/bob").as_user(admin)
    });
    let log = api.d.log();
    assert!(
        log.contains("the store failed while answering an OCS request"),
        "{log}"
    );
}

#[test]
fn behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client() {
    let api = Api::start(
        "[throttle]\nfirst_delay = \"1h\"\n\n[http]\ntrusted_proxies = [\"127.0.0.1\"]\n",
    );
    api.user("bob", "Bob-regular-pass-1", &[]);
    let check = |password: &str, forwarded: &str| {
        api.http
            .get(format!("{}/auth/check", api.d.url()))
            .basic_auth("bob", Some(password))
            .header("X-Forwarded-For", forwarded)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(check("wrong-password-1", "192.0.2.1"), 401);
    // That client is throttled; another behind the same proxy is not.
    assert_eq!(check("Bob-regular-pass-1", "192.0.2.1"), 429);
    assert_eq!(check("Bob-regular-pass-1", "198.51.100.2"), 204);
    // A client cannot pick its address: only the last hop before the proxy counts.
    assert_eq!(check("Bob-regular-pass-1", "198.51.100.2, 192.0.2.1"), 429);
    assert!(
        api.d.log().contains(r#"source="192.0.2.1""#),
        "{}",
        api.d.log()
    );
}

// ---- Security: each test names the hole it proves closed (issue 11). ----

impl Api {
    /// `GET /auth/check` as `who`, optionally through a trusted proxy that names
    /// the client in X-Forwarded-For: the HTTP status.
    fn auth_check(&self, who: (&str, &str), forwarded_for: Option<&str>) -> u16 {
        let mut request = self
            .http
            .get(format!("{}/auth/check", self.d.url()))
            .basic_auth(who.0, Some(who.1));
        if let Some(client) = forwarded_for {
            request = request.header("X-Forwarded-For", client);
        }
        request.send().unwrap().status().as_u16()
    }
}

#[test]
fn system_and_denied_names_are_never_created_over_ocs_or_the_cli() {
    let api = Api::start("[names]\ndeny_users = [\"root\", \"postmaster\"]\n");
    api.user("sam", "Sam-pass-12345", &["staff"]);
    api.d.cli(&["group", "adduser", "admin", "sam"], None);
    for uid in ["root", "Root", "daemon", "postmaster"] {
        let add = Outgoing::post("/cloud/users")
            .form("userid", uid)
            .form("password", "A-fine-password-1")
            .as_user(api.admin());
        let a = api.send(&add, V1_JSON);
        expect(&a, V1_JSON, 101, uid);
        assert!(
            a.body.contains("system account") || a.body.contains("deny list"),
            "{}",
            a.body
        );
    }
    let refused = api
        .d
        .command()
        .args(["user", "add", "--password-from-env", "daemon"])
        .env("OC_PASS", "A-fine-password-1")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("system account (/etc/passwd)"), "{said}");
}

#[test]
fn store_groups_named_like_system_groups_exist_for_ocs_but_are_said_to_stay_out_of_nss() {
    let api = Api::start("");
    let create = |gid: &str| {
        let request = Outgoing::post("/cloud/groups")
            .form("groupid", gid)
            .as_user(api.admin());
        api.send(&request, V2_JSON)
    };
    let a = create("sudo");
    expect(&a, V2_JSON, 100, "create sudo");
    assert!(a.body.contains("never exported over NSS"), "{}", a.body);
    let plain = create("physics");
    assert!(!plain.body.contains("NSS"), "{}", plain.body);
    let out = api.d.cli(&["group", "add", "users"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("also exists on this system (/etc/group)"),
        "{said}"
    );
}

#[test]
fn a_group_named_in_another_case_gives_no_hidden_admin_rights() {
    let api = Api::start("");
    api.user("u2", "U2-pass-123456", &[]);
    let join = Outgoing::post("/cloud/users/u2/groups")
        .form("groupid", "Admin")
        .as_user(api.admin());
    expect(&api.send(&join, V1_JSON), V1_JSON, 100, "add to Admin");
    // The membership is the admin group's, visible under its own name ...
    let members = api.send(
        &Outgoing::get("/cloud/groups/admin").as_user(api.admin()),
        V1_JSON,
    );
    assert!(
        members.data["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "u2"),
        "{}",
        members.body
    );
    // ... and removed by it, taking the rights with it.
    let u2 = ("u2", "U2-pass-123456");
    let read = Outgoing::get("/cloud/users/admin").as_user(u2);
    expect(&api.send(&read, V2_JSON), V2_JSON, 100, "u2 is an admin");
    let leave = Outgoing::delete("/cloud/users/u2/groups")
        .form("groupid", "admin")
        .as_user(api.admin());
    expect(
        &api.send(&leave, V1_JSON),
        V1_JSON,
        100,
        "remove from admin",
    );
    let answer = api.send(&read, V2_JSON);
    expect(&answer, V2_JSON, 998, "u2 is no admin any more");
}

#[test]
fn an_app_password_cannot_replace_the_login_password_and_resets_revoke_app_passwords() {
    let api = Api::start("revoke_app_passwords_on_reset = true\n");
    api.user("u1", "U1-pass-123456", &[]);
    let token = api.d.app_password("u1");
    let by_token = ("u1", token.as_str());
    let change = |to: &str| {
        Outgoing::put("/cloud/users/u1")
            .form("key", "password")
            .form("value", to)
    };
    let a = api.send(&change("Taken-over-pass-1").as_user(by_token), V2_JSON);
    expect(&a, V2_JSON, 403, "own password with an app password");
    assert_eq!(api.auth_check(("u1", "U1-pass-123456"), None), 204);
    // With the login password it works, and (as configured) ends the app passwords.
    let a = api.send(
        &change("U1-new-pass-7890").as_user(("u1", "U1-pass-123456")),
        V2_JSON,
    );
    expect(&a, V2_JSON, 100, "own password with the login password");
    assert_eq!(api.auth_check(by_token, None), 401, "app password revoked");
    assert_eq!(api.auth_check(("u1", "U1-new-pass-7890"), None), 204);
}

#[test]
fn passwords_no_login_could_use_are_refused_with_107() {
    let api = Api::start("");
    api.user("u1", "U1-pass-123456", &[]);
    for bad in [
        "Line-one\nline-two",
        "Carriage\rreturn-1",
        "Nul\0byte-12345",
    ] {
        let add = Outgoing::post("/cloud/users")
            .form("userid", "fresh")
            .form("password", bad)
            .as_user(api.admin());
        let a = api.send(&add, V1_JSON);
        expect(&a, V1_JSON, 107, "add");
        assert!(a.body.contains("CR, LF or NUL"), "{}", a.body);
        let edit = Outgoing::put("/cloud/users/u1")
            .form("key", "password")
            .form("value", bad)
            .as_user(api.admin());
        expect(&api.send(&edit, V1_JSON), V1_JSON, 107, "edit");
    }
    assert_eq!(api.auth_check(("u1", "U1-pass-123456"), None), 204);
}

#[test]
fn a_subadmin_gets_the_same_answer_for_missing_users_and_users_outside_their_groups() {
    let api = Api::start("");
    // `user add -g` creates the groups.
    api.user("sam", "Sam-pass-12345", &["g1"]);
    api.user("other", "Other-pass-1234", &["g2"]);
    let promote = Outgoing::post("/cloud/users/sam/subadmins")
        .form("groupid", "g1")
        .as_user(api.admin());
    expect(&api.send(&promote, V1_JSON), V1_JSON, 100, "promote");
    let sam = ("sam", "Sam-pass-12345");
    for (method, path, form) in [
        (Method::GET, "/cloud/users/{u}", vec![]),
        (
            Method::PUT,
            "/cloud/users/{u}",
            vec![("key", "email"), ("value", "x@example.org")],
        ),
        (Method::PUT, "/cloud/users/{u}/disable", vec![]),
        (Method::DELETE, "/cloud/users/{u}", vec![]),
        (Method::GET, "/cloud/users/{u}/groups", vec![]),
        (
            Method::POST,
            "/cloud/users/{u}/groups",
            vec![("groupid", "g1")],
        ),
    ] {
        let ask = |uid: &str| {
            let mut request = Outgoing::new(method.clone(), path.replace("{u}", uid)).as_user(sam);
            for (key, value) in &form {
                request = request.form(key, value);
            }
            let a = api.send(&request, V2_JSON);
            (a.http, a.statuscode, a.data.to_string())
        };
        assert_eq!(ask("other"), ask("no-such-user"), "{method} {path}");
    }
}

#[test]
fn an_unknown_user_costs_as_much_time_as_a_wrong_password() {
    // Delays of a millisecond: the throttle must not be what is measured.
    let api = Api::start("[throttle]\nfirst_delay = \"1ms\"\nmax_delay = \"1ms\"\n");
    api.user("known", "Known-pass-1234", &[]);
    let median = |uid: &str| {
        let mut times: Vec<_> = (0..7)
            .map(|n| {
                let started = std::time::Instant::now();
                let status = api.auth_check((uid, "wrong-password"), None);
                let took = started.elapsed();
                assert_eq!(status, 401, "attempt {n}");
                took
            })
            .collect();
        times.sort();
        times[3]
    };
    let known = median("known");
    let unknown = median("unknown-user");
    // Before: 2-86 ms against 240-360 ms. Both now verify one argon2id hash.
    assert!(
        unknown * 2 >= known,
        "unknown {unknown:?} vs known {known:?}: timing tells who exists"
    );
}

/// The daemon's peak resident memory (VmHWM), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

#[test]
fn sixty_four_wrong_passwords_at_once_meet_the_throttle_and_bounded_hashing() {
    let api = Api::start("");
    api.user("victim", "Victim-pass-123", &[]);
    let before = peak_mib(api.d.pid());
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|n| {
                let api = &api;
                s.spawn(move || api.auth_check(("victim", &format!("guess-{n}")), None))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let throttled = statuses.iter().filter(|&&s| s == 429).count();
    let rejected = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(throttled + rejected, 64, "{statuses:?}");
    // At most eight guesses ran before the first failures were counted; the rest
    // waited for them and met the delay.
    assert!(
        rejected <= 16,
        "{rejected} guesses reached argon2: {statuses:?}"
    );
    let after = peak_mib(api.d.pid());
    // Before: 110 MB to 1.9 GB. Now at most a few 32 MiB hashes at once.
    assert!(after < before + 400, "peak memory {before} -> {after} MiB");
}

#[test]
fn junk_logins_are_refused_before_they_cost_anything() {
    let api = Api::start("");
    let db = api.d.dir.path().join("data/authbridge.sqlite");
    // A 100 KB login: refused as input, never stored or looked up.
    let huge = "x".repeat(100 * 1024);
    let status = api
        .http
        .get(format!("{}/auth/check", api.d.url()))
        .basic_auth(&huge, Some("pw"))
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert!(status == 401 || status == 431, "{status}");
    let size_before = std::fs::metadata(&db).unwrap().len()
        + std::fs::metadata(db.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    // 2,000 requests without credentials, and 300 logins of 255 bytes and more.
    for n in 0..2000 {
        let status = api
            .http
            .get(format!("{}/auth/check", api.d.url()))
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 401, "request {n}");
    }
    for n in 0..300 {
        let login = format!("{n:0>256}");
        assert_eq!(api.auth_check((&login, "pw"), None), 401);
    }
    let size_after = std::fs::metadata(&db).unwrap().len()
        + std::fs::metadata(db.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    assert!(
        size_after < size_before + 256 * 1024,
        "the store grew from {size_before} to {size_after} bytes"
    );
    let raw = rusqlite::Connection::open(&db).unwrap();
    let failures: i64 = raw
        .query_row("SELECT count(*) FROM login_failures", [], |r| r.get(0))
        .unwrap();
    assert_eq!(failures, 0, "overlong logins are not counted, only refused");
}

#[test]
fn ipv6_clients_are_throttled_per_64() {
    let api =
        Api::start("[http]\ntrusted_proxies = [\"127.0.0.1\"]\n[throttle]\nfirst_delay = \"1h\"\n");
    api.user("eve", "Eve-pass-123456", &[]);
    let right = ("eve", "Eve-pass-123456");
    assert_eq!(
        api.auth_check(("eve", "wrong-guess"), Some("2001:db8:1:2::1")),
        401
    );
    // Another address of the same /64 inherits the delay ...
    assert_eq!(api.auth_check(right, Some("2001:db8:1:2::abcd")), 429);
    // ... another /64 does not.
    assert_eq!(api.auth_check(right, Some("2001:db8:1:3::1")), 204);
    let log = api.d.log();
    assert!(log.contains(r#"source="2001:db8:1:2::/64""#), "{log}");
}

#[test]
fn the_first_admin_password_is_written_to_a_private_file_not_to_standard_output() {
    let api = Api::start("");
    let out = std::fs::read_to_string(api.d.dir.path().join("daemon.out")).unwrap();
    assert!(
        !out.contains(&api.admin.1),
        "the password reached stdout: {out}"
    );
    assert!(out.contains("first-admin-password"), "{out}");
    let file = api.d.dir.path().join("data/first-admin-password");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(api.auth_check(api.admin(), None), 204);
}

#[test]
fn only_an_admin_provisions_a_name_an_external_backend_serves() {
    // An IMAP server for example.org (nobody listens: no login is needed here).
    let closed = ClosedPort::hold();
    let api = Api::start(&format!(
        "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ndomain = \"example.org\"\n",
        closed.port
    ));
    api.user("sam", "Sam-pass-12345", &["g1"]);
    let promote = Outgoing::post("/cloud/users/sam/subadmins")
        .form("groupid", "g1")
        .as_user(api.admin());
    expect(&api.send(&promote, V1_JSON), V1_JSON, 100, "promote");
    let sam = ("sam", "Sam-pass-12345");
    let add = |uid: &str| {
        Outgoing::post("/cloud/users")
            .form("userid", uid)
            .form("password", "Bob-local-pass-1")
    };
    for uid in ["bob", "bob@example.org"] {
        let a = api.send(&add(uid).form("groups[]", "g1").as_user(sam), V1_JSON);
        expect(&a, V1_JSON, 105, uid);
        assert!(a.body.contains("only an admin"), "{}", a.body);
    }
    // A name the mail server would not serve (another domain) is the subadmin's.
    let a = api.send(
        &add("bob@other.org").form("groups[]", "g1").as_user(sam),
        V1_JSON,
    );
    expect(&a, V1_JSON, 100, "another domain");
    let a = api.send(&add("bob").as_user(api.admin()), V1_JSON);
    expect(&a, V1_JSON, 100, "an admin may");
}

#[test]
fn idle_and_slow_http_clients_give_their_places_back() {
    let api = Api::start(
        "[http]\nmax_connections = 40\nmax_connections_per_client = 20\nheader_timeout = \"2s\"\nrequest_timeout = \"3s\"\n",
    );
    let addr = api.d.http.unwrap();
    use std::io::{Read, Write};
    // 60 clients from one address: some send nothing, some half a request line,
    // some headers and then a body that never comes.
    let mut held: Vec<std::net::TcpStream> = (0..60)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    for (n, s) in held.iter_mut().enumerate() {
        let _ = match n % 3 {
            0 => Ok(()),
            1 => s.write_all(b"GET /auth/check HTTP/1.1\r\nHost: x\r\n"),
            _ => s.write_all(
                b"POST /ocs/v2.php/cloud/users HTTP/1.1\r\nHost: x\r\nOCS-APIRequest: true\r\nContent-Length: 1000000\r\n\r\nuserid=",
            ),
        };
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    }
    // Each is closed by the server: at once past the caps, else at its deadline;
    // a request without credentials is refused before its body is waited for.
    let started = std::time::Instant::now();
    for (n, s) in held.iter_mut().enumerate() {
        let mut buf = [0u8; 512];
        let got = s.read(&mut buf).unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..got]);
        let refused = n % 3 == 2 && answer.starts_with("HTTP/1.1 401");
        assert!(
            got == 0 || answer.starts_with("HTTP/1.1 408") || refused,
            "{answer}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "held for {:?}",
        started.elapsed()
    );
    assert_eq!(api.auth_check(api.admin(), None), 204);
}

#[test]
fn no_login_can_forge_a_line_of_the_decision_log() {
    let api = Api::start("");
    let forged = "x\nFORGED-LINE INFO decision login=admin verdict=Accepted";
    assert_eq!(api.auth_check((forged, "pw"), None), 401);
    let log = api.d.log();
    assert!(
        !log.lines()
            .any(|l| l.to_lowercase().starts_with("forged-line")),
        "a forged line: {log}"
    );
    // Logins are folded to lower case before they are logged.
    assert!(log.contains(r#"login="x\nforged-line"#), "escaped: {log}");
    // Nor a field: a login with spaces stays one quoted value.
    assert_eq!(
        api.auth_check(("y verdict=Accepted uid=root", "pw"), None),
        401
    );
    let log = api.d.log();
    let line = log
        .lines()
        .find(|l| l.contains("y verdict=accepted"))
        .expect("the decision line");
    assert!(
        line.contains(r#"login="y verdict=accepted uid=root""#),
        "{line}"
    );
    let outside_quotes = line.replace(r#""y verdict=accepted uid=root""#, "");
    assert_eq!(outside_quotes.matches(" verdict=").count(), 1, "{line}");
}

#[test]
fn an_older_password_link_stops_working() {
    let smtp = Smtp::start();
    let api = Api::with_mail(&smtp);
    api.d.cli(
        &[
            "user",
            "add",
            "--password-from-env",
            "--email",
            "ida@example.org",
            "ida",
        ],
        Some("Ida-pass-123456"),
    );
    let welcome = || {
        let resend = Outgoing::post("/cloud/users/ida/welcome").as_user(api.admin());
        expect(&api.send(&resend, V1_JSON), V1_JSON, 100, "welcome");
        let mails = smtp.messages();
        link_in(mails.last().unwrap())
    };
    let works = |link: &str| api.http.get(link).send().unwrap().status().as_u16() == 200;
    // A newer link ends the older one.
    let first = welcome();
    let second = welcome();
    assert!(!works(&first), "the older link still works");
    assert!(works(&second));
    // So does a changed address, a disable, and any new password.
    let edit = |key: &str, value: &str| {
        let request = Outgoing::put("/cloud/users/ida")
            .form("key", key)
            .form("value", value)
            .as_user(api.admin());
        expect(&api.send(&request, V1_JSON), V1_JSON, 100, key)
    };
    edit("email", "ida@new.example.org");
    assert!(!works(&second), "alive after an address change");
    let third = welcome();
    edit("password", "Ida-newer-pass-1");
    assert!(!works(&third), "alive after a new password");
    let fourth = welcome();
    api.d.cli(&["user", "disable", "ida"], None);
    assert!(!works(&fourth), "alive after a disable");
}

#[test]
fn the_password_page_refuses_a_password_no_login_could_use() {
    let smtp = Smtp::start();
    let api = Api::with_mail(&smtp);
    let add = Outgoing::post("/cloud/users")
        .form("userid", "joe")
        .form("email", "joe@example.org")
        .as_user(api.admin());
    expect(&api.send(&add, V1_JSON), V1_JSON, 100, "add with welcome");
    let link = link_in(&smtp.messages()[0]);
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let bad = "Line-one\nline-two-is-long";
    let answer = api
        .http
        .post(format!("{}/password/set", api.d.url()))
        .form(&[
            ("token", token.as_str()),
            ("password", bad),
            ("password2", bad),
        ])
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let page = answer.text().unwrap();
    assert!(page.contains("CR, LF or NUL"), "{page}");
    // The link still works for a usable password.
    let answer = api
        .http
        .post(format!("{}/password/set", api.d.url()))
        .form(&[
            ("token", token.as_str()),
            ("password", "Joe-usable-pass-1"),
            ("password2", "Joe-usable-pass-1"),
        ])
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(api.auth_check(("joe", "Joe-usable-pass-1"), None), 204);
}

#[test]
fn one_password_tried_against_many_logins_meets_the_throttle() {
    let api =
        Api::start("[http]\ntrusted_proxies = [\"127.0.0.1\"]\n[throttle]\nfirst_delay = \"1h\"\n");
    api.user("target", "Target-pass-1234", &[]);
    let sprayer = Some("203.0.113.50");
    for n in 0..21 {
        let status = api.auth_check((&format!("someone{n}"), "Summer2026!"), sprayer);
        assert_eq!(status, 401, "attempt {n}");
    }
    // Past twenty failures the whole source waits, whatever the login ...
    assert_eq!(api.auth_check(("target", "Target-pass-1234"), sprayer), 429);
    // ... and only that source.
    assert_eq!(
        api.auth_check(("target", "Target-pass-1234"), Some("203.0.113.51")),
        204
    );
}

/// The credential cache over HTTP Basic: a local user's login password is
/// checked with argon2id once per `http_credential_cache`, and no change of the
/// account — made by the CLI, another process — outlives the very next request.
#[test]
fn login_passwords_over_http_are_remembered_briefly_and_never_outlive_a_change() {
    let api = Api::start("[daemon]\nhttp_credential_cache = \"5m\"\n");
    api.user("carol", "Carol-login-pass-1", &[]);
    let check = |password: &str| {
        api.http
            .get(format!("{}/auth/check", api.d.url()))
            .basic_auth("carol", Some(password))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let own_data = |password: &str| {
        let own = Outgoing::get("/cloud/users/carol").as_user(("carol", password));
        api.send(&own, V2_JSON).http
    };
    let decisions = |backend: &str| {
        api.d
            .log()
            .lines()
            .filter(|l| l.contains("decision") && l.contains("login=\"carol\""))
            .filter(|l| l.contains(&format!("backend={backend} ")))
            .count()
    };
    assert_eq!(check("Carol-login-pass-1"), 204);
    assert_eq!(own_data("Carol-login-pass-1"), 200);
    assert_eq!(check("Carol-login-pass-1"), 204);
    assert_eq!(decisions("local"), 1, "{}", api.d.log());
    assert_eq!(decisions("cache"), 2, "{}", api.d.log());

    // A wrong password is never answered from memory, nor remembered.
    assert_eq!(check("Carol-login-pass-2"), 401);
    assert_eq!(
        check("Carol-login-pass-1"),
        204,
        "the right one still works"
    );

    // A reset by the CLI: the old password fails on the very next request.
    api.d.cli(
        &["user", "resetpassword", "--password-from-env", "carol"],
        Some("Carol-new-pass-77"),
    );
    assert_eq!(check("Carol-login-pass-1"), 401);
    assert_eq!(check("Carol-new-pass-77"), 204);
    assert_eq!(check("Carol-new-pass-77"), 204);

    // A disable, then an enable.
    api.d.cli(&["user", "disable", "carol"], None);
    assert_eq!(own_data("Carol-new-pass-77"), 401);
    assert_eq!(check("Carol-new-pass-77"), 401);
    api.d.cli(&["user", "enable", "carol"], None);
    assert_eq!(check("Carol-new-pass-77"), 204);

    // A revoked app password fails on the very next request (it is never cached).
    let token = api.d.app_password("carol");
    assert_eq!(check(&token), 204);
    assert_eq!(check(&token), 204);
    let list = api.d.cli(
        &["user", "auth-tokens", "list", "--output", "json", "carol"],
        None,
    );
    let id = serde_json::from_slice::<Value>(&list.stdout).unwrap()[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    api.d
        .cli(&["user", "auth-tokens", "delete", "carol", &id], None);
    assert_eq!(check(&token), 401);

    // A delete, and a new account of the same name with another password.
    assert_eq!(check("Carol-new-pass-77"), 204);
    api.d.cli(&["user", "delete", "carol"], None);
    assert_eq!(check("Carol-new-pass-77"), 401);
    api.user("carol", "Carol-second-life-9", &[]);
    assert_eq!(check("Carol-new-pass-77"), 401);
    assert_eq!(check("Carol-second-life-9"), 204);

    // SIGHUP empties the cache: the next request is checked again.
    let before = decisions("local");
    api.d.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(5), || api
            .d
            .log()
            .contains("configuration reloaded")),
        "no reload"
    );
    assert_eq!(check("Carol-second-life-9"), 204);
    assert_eq!(decisions("local"), before + 1);
}

/// Every accepted login moves lastLogin, a local user's and an app password's
/// too (nc_py_api's `UserInfo.last_login`), at most once a minute per account.
#[test]
fn a_login_of_any_kind_moves_last_login() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &[]);
    let read = || {
        let answer = api.send(
            &Outgoing::get("/cloud/users/bob").as_user(api.admin()),
            V2_JSON,
        );
        (
            answer.data["lastLogin"].as_i64().unwrap(),
            answer.data["firstLoginTimestamp"].as_i64().unwrap(),
        )
    };
    assert_eq!(read(), (0, 0), "never logged in");
    let own = Outgoing::get("/cloud/user").as_user(("bob", "Bob-regular-pass-1"));
    expect(&api.send(&own, V2_JSON), V2_JSON, 100, "bob logs in");
    let (last, first) = read();
    assert!(
        last > 0 && first > 0 && last == first * 1000,
        "{last} {first}"
    );
}

/// What an attacker's review of the new endpoints found, each answered now: a
/// subadmin sees admins in `users/details` by id only, cannot tell who exists
/// through `manager`, cannot send a hundred thousand groups, and nobody can
/// store a character that breaks every XML listing.
#[test]
fn review_findings_stay_fixed() {
    let api = Api::start("");
    api.user("sub", "Sub-admin-pass-1", &["team"]);
    api.user("alice", "Alice-regular-pass-1", &["team"]);
    api.user("boss2", "Boss2-admin-pass-1", &["admin", "team"]);
    api.user("outsider", "Outsider-pass-1", &[]);
    let admin = api.admin();
    let sub = ("sub", "Sub-admin-pass-1");
    let promote = Outgoing::post("/cloud/users/sub/subadmins")
        .form("groupid", "team")
        .as_user(admin);
    expect(&api.send(&promote, V2_JSON), V2_JSON, 100, "promote");

    let details = api.send(&Outgoing::get("/cloud/users/details").as_user(sub), V2_JSON);
    expect(&details, V2_JSON, 100, "details");
    assert_eq!(details.data["users"]["boss2"], json!({ "id": "boss2" }));
    assert_eq!(details.data["users"]["alice"]["id"], "alice");
    // alice, whom sub manages, in full.
    assert_eq!(details.data["users"]["alice"]["backend"], "Database");

    let manager = |value: &str| {
        Outgoing::put("/cloud/users/alice")
            .form("key", "manager")
            .form("value", value)
            .as_user(sub)
    };
    let hidden = api.send(&manager("outsider"), V2_JSON);
    let missing = api.send(&manager("nosuch"), V2_JSON);
    assert_eq!(
        (hidden.http, hidden.statuscode),
        (missing.http, missing.statuscode)
    );
    assert!(hidden.refused(), "{}", hidden.body);
    expect(
        &api.send(&manager("SUB"), V2_JSON),
        V2_JSON,
        100,
        "a visible manager",
    );
    let alice = api.send(&Outgoing::get("/cloud/users/alice").as_user(admin), V2_JSON);
    assert_eq!(
        alice.data["manager"], "sub",
        "stored in the store's spelling"
    );

    let mut many = Outgoing::post("/cloud/users")
        .form("userid", "many")
        .form("password", "A-good-password-42");
    for n in 0..101 {
        many = many.form("groups[]", &format!("g{n}"));
    }
    let answer = api.send(&many.as_user(admin), V2_JSON);
    expect(&answer, V2_JSON, 101, "101 groups");

    let weird = Outgoing::put("/cloud/users/alice")
        .form("key", "displayname")
        .form("value", "Alice\u{FFFE}")
        .as_user(("alice", "Alice-regular-pass-1"));
    assert!(api.send(&weird, V2_JSON).refused());
}
