//! The OCS Provisioning API over a real socket (reqwest against `authbridge
//! serve`): every endpoint with its documented status codes, in v1 and v2, XML and
//! JSON, for each role; the welcome mail through a real SMTP server (aiosmtpd).

use authbridge_testsupport::{ClosedPort, Daemon, Smtp, eventually, free_port, wait_for_port};
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::Value;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const V: [&str; 2] = ["v1", "v2"];
const F: [&str; 2] = ["xml", "json"];

struct Api {
    d: Daemon,
    http: Client,
    admin: (String, String),
}

/// What came back: HTTP status, meta statuscode, and the data (JSON answers only).
#[derive(Debug)]
struct Answer {
    http: u16,
    code: u32,
    data: Value,
    body: String,
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

    fn send(
        &self,
        method: Method,
        version: &str,
        format: &str,
        path: &str,
        who: (&str, &str),
        form: &[(&str, &str)],
    ) -> Answer {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}/ocs/{version}.php/cloud{path}{sep}format={format}",
            self.d.url()
        );
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let response = self
            .http
            .request(method, url)
            .basic_auth(who.0, Some(who.1))
            .header("OCS-APIRequest", "true")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        let http = response.status().as_u16();
        let body = response.text().unwrap();
        let code = meta_code(&body);
        let data = if format == "json" {
            serde_json::from_str::<Value>(&body).unwrap()["ocs"]["data"].clone()
        } else {
            Value::Null
        };
        Answer {
            http,
            code,
            data,
            body,
        }
    }

    fn admin(&self) -> (&str, &str) {
        (&self.admin.0, &self.admin.1)
    }
}

/// The documented code as each version shows it: v1 keeps the OCS code in meta
/// with HTTP 200; v2 shows 200 for success and maps failures to HTTP statuses.
fn check(a: &Answer, version: &str, code: u32, what: &str) {
    let (http, meta) = match (version, code) {
        ("v1", 997) => (401, 997),
        ("v1", 403) => (200, 997),
        ("v1", c) => (200, c),
        ("v2", 100) => (200, 200),
        ("v2", 997) => (401, 997),
        ("v2", 998) => (404, 998),
        ("v2", 403) => (403, 403),
        ("v2", 996) => (500, 996),
        ("v2", c) => (if c < 200 { 400 } else { c as u16 }, c),
        _ => unreachable!(),
    };
    assert_eq!(
        (a.http, a.code),
        (http, meta),
        "{what} ({version}): {}",
        a.body
    );
}

/// Runs `call` in v1 and v2, XML and JSON (four times, `n` = 0..4 to keep ids
/// apart), expecting `code` from each.
fn all(api: &Api, code: u32, what: &str, mut call: impl FnMut(&str, &str, usize) -> Answer) {
    let mut n = 0;
    for v in V {
        for f in F {
            let a = call(v, f, n);
            check(&a, v, code, what);
            n += 1;
        }
    }
    let _ = api;
}

#[test]
fn users_endpoints_with_their_codes_and_roles() {
    let api = Api::start("");
    api.user("sub", "Sub-admin-pass-1", &["team"]);
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.user("carl", "Carl-other-pass-1", &["others"]);
    api.d.cli(&["group", "add", "empty"], None);
    let admin = api.admin();
    let sub = ("sub", "Sub-admin-pass-1");
    let bob = ("bob", "Bob-regular-pass-1");
    api.send(
        Method::POST,
        "v1",
        "xml",
        "/users/sub/subadmins",
        admin,
        &[("groupid", "team")],
    );

    // add: every documented code.
    all(&api, 100, "add", |v, f, n| {
        let id = format!("new{n}");
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", &id),
                ("password", "A-good-password-42"),
                ("groups[]", "team"),
                ("displayName", "Nü User"),
                ("quota", "5 GB"),
                ("language", "de"),
            ],
        )
    });
    let a = api.send(Method::GET, "v2", "json", "/users/new0", admin, &[]);
    assert_eq!(
        (
            a.data["displayname"].as_str(),
            a.data["quota"]["quota"].as_str(),
            a.data["language"].as_str()
        ),
        (Some("Nü User"), Some("5 GB"), Some("de"))
    );
    assert_eq!(a.data["groups"], serde_json::json!(["team"]));
    all(&api, 101, "add: invalid id", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", "a/b"), ("password", "A-good-password-42")],
        )
    });
    all(&api, 101, "add: dots only", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", ".."), ("password", "A-good-password-42")],
        )
    });
    all(&api, 101, "add: unknown key", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", "x1"),
                ("password", "A-good-password-42"),
                ("colour", "red"),
            ],
        )
    });
    all(&api, 101, "add: bad quota", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", "x2"),
                ("password", "A-good-password-42"),
                ("quota", "lots"),
            ],
        )
    });
    all(&api, 102, "add: exists", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", "bob"), ("password", "A-good-password-42")],
        )
    });
    all(&api, 103, "add: subadmin of admin", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", "x3"),
                ("password", "A-good-password-42"),
                ("subadmin[]", "admin"),
            ],
        )
    });
    all(&api, 104, "add: no such group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", "x4"),
                ("password", "A-good-password-42"),
                ("groups[]", "nope"),
            ],
        )
    });
    all(&api, 105, "add: subadmin, other group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            sub,
            &[
                ("userid", "x5"),
                ("password", "A-good-password-42"),
                ("groups[]", "others"),
            ],
        )
    });
    all(&api, 106, "add: subadmin, no group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            sub,
            &[("userid", "x6"), ("password", "A-good-password-42")],
        )
    });
    all(&api, 107, "add: weak password", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", "x7"), ("password", "password123")],
        )
    });
    all(&api, 108, "add: neither password nor email", |v, f, _| {
        api.send(Method::POST, v, f, "/users", admin, &[("userid", "x8")])
    });
    all(&api, 109, "add: invitation fails (no relay)", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", "x9"), ("email", "x9@example.org")],
        )
    });
    all(&api, 997, "add: not logged in", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            ("bob", "wrong-password-1"),
            &[("userid", "x10")],
        )
    });
    all(&api, 403, "add: a regular user", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            bob,
            &[("userid", "x11"), ("password", "A-good-password-42")],
        )
    });
    // The subadmin creates into their own group.
    all(&api, 100, "add: subadmin, own group", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            sub,
            &[
                ("userid", &format!("team{n}")),
                ("password", "A-good-password-42"),
                ("groups[]", "team"),
            ],
        )
    });
    // Nothing stayed behind from the failed creates.
    let listed = api.send(Method::GET, "v2", "json", "/users", admin, &[]);
    for id in [
        "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "..",
    ] {
        assert!(
            !listed.data["users"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == id),
            "{id} exists: {}",
            listed.body
        );
    }
    assert!(
        !api.send(Method::GET, "v2", "json", "/groups?search=nope", admin, &[])
            .body
            .contains("nope")
    );

    // list: admin everything, subadmin their group, search, limit, offset.
    let all_users = api
        .send(Method::GET, "v1", "json", "/users", admin, &[])
        .data["users"]
        .as_array()
        .unwrap()
        .len();
    assert!(all_users >= 12);
    let mine = api.send(Method::GET, "v1", "json", "/users", sub, &[]).data["users"].clone();
    assert!(
        mine.as_array().unwrap().iter().all(|u| u != "carl")
            && mine.as_array().unwrap().iter().any(|u| u == "bob"),
        "{mine}"
    );
    let page = api
        .send(
            Method::GET,
            "v2",
            "json",
            "/users?search=new&limit=2&offset=1",
            admin,
            &[],
        )
        .data["users"]
        .clone();
    assert_eq!(page, serde_json::json!(["new1", "new2"]));
    all(&api, 100, "list", |v, f, _| {
        api.send(Method::GET, v, f, "/users?search=bo", admin, &[])
    });
    all(&api, 101, "list: bad limit", |v, f, _| {
        api.send(Method::GET, v, f, "/users?limit=ten", admin, &[])
    });
    let xml = api
        .send(Method::GET, "v1", "xml", "/users?search=bob", admin, &[])
        .body;
    assert!(
        xml.contains("<users>\n   <element>bob</element>\n  </users>"),
        "{xml}"
    );

    // get: self, subadmin, admin; not found; someone else's.
    all(&api, 100, "get: self", |v, f, _| {
        api.send(Method::GET, v, f, "/users/bob", bob, &[])
    });
    all(&api, 100, "get: subadmin", |v, f, _| {
        api.send(Method::GET, v, f, "/users/bob", sub, &[])
    });
    all(&api, 998, "get: missing", |v, f, _| {
        api.send(Method::GET, v, f, "/users/ghost", admin, &[])
    });
    all(&api, 998, "get: unicode id", |v, f, _| {
        api.send(Method::GET, v, f, "/users/J%C3%BCrgen", admin, &[])
    });
    all(&api, 998, "get: slash in id", |v, f, _| {
        api.send(Method::GET, v, f, "/users/a%2Fb", admin, &[])
    });
    all(&api, 403, "get: another user's", |v, f, _| {
        api.send(Method::GET, v, f, "/users/carl", bob, &[])
    });

    // edit: every key; 101; 102; 107; quota only by managers.
    for (key, value) in [
        ("email", "bob@example.org"),
        ("displayname", "Bob B."),
        ("display", "Bob"),
        ("phone", "+49 30 1234"),
        ("address", "Foobar 12"),
        ("website", "https://example.org"),
        ("twitter", "bob"),
    ] {
        all(&api, 100, key, |v, f, _| {
            api.send(
                Method::PUT,
                v,
                f,
                "/users/bob",
                bob,
                &[("key", key), ("value", value)],
            )
        });
    }
    // The password, by bob himself: each combination changes it to the next.
    let passwords = [
        "Another-good-pass-0",
        "Another-good-pass-1",
        "Another-good-pass-2",
        "Another-good-pass-3",
    ];
    all(&api, 100, "password", |v, f, n| {
        let current = if n == 0 {
            "Bob-regular-pass-1"
        } else {
            passwords[n - 1]
        };
        api.send(
            Method::PUT,
            v,
            f,
            "/users/bob",
            ("bob", current),
            &[("key", "password"), ("value", passwords[n])],
        )
    });
    let bob = ("bob", "Another-good-pass-3");
    all(&api, 100, "edit quota: subadmin", |v, f, _| {
        api.send(
            Method::PUT,
            v,
            f,
            "/users/bob",
            sub,
            &[("key", "quota"), ("value", "1 GB")],
        )
    });
    all(&api, 403, "edit quota: self", |v, f, _| {
        api.send(
            Method::PUT,
            v,
            f,
            "/users/bob",
            bob,
            &[("key", "quota"), ("value", "100 TB")],
        )
    });
    all(&api, 101, "edit: missing user", |v, f, _| {
        api.send(
            Method::PUT,
            v,
            f,
            "/users/ghost",
            admin,
            &[("key", "email"), ("value", "g@example.org")],
        )
    });
    for (key, value) in [
        ("email", "not-an-address"),
        ("quota", "lots"),
        ("website", "javascript:alert(1)"),
        ("colour", "red"),
        ("language", "German"),
    ] {
        all(&api, 102, key, |v, f, _| {
            api.send(
                Method::PUT,
                v,
                f,
                "/users/bob",
                admin,
                &[("key", key), ("value", value)],
            )
        });
    }
    all(&api, 107, "edit: weak password", |v, f, _| {
        api.send(
            Method::PUT,
            v,
            f,
            "/users/bob",
            bob,
            &[("key", "password"), ("value", "password")],
        )
    });
    let data = api
        .send(Method::GET, "v2", "json", "/users/bob", admin, &[])
        .data;
    assert_eq!(
        (
            data["email"].as_str(),
            data["phone"].as_str(),
            data["quota"]["quota"].as_str()
        ),
        (Some("bob@example.org"), Some("+49 30 1234"), Some("1 GB"))
    );

    // disable / enable / delete.
    all(&api, 100, "disable", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/carl/disable", admin, &[])
    });
    all(
        &api,
        997,
        "a disabled user cannot authenticate",
        |v, f, _| {
            api.send(
                Method::GET,
                v,
                f,
                "/users/carl",
                ("carl", "Carl-other-pass-1"),
                &[],
            )
        },
    );
    all(&api, 100, "enable", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/carl/enable", admin, &[])
    });
    all(&api, 101, "disable: missing", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/ghost/disable", admin, &[])
    });
    all(&api, 101, "enable: missing", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/ghost/enable", admin, &[])
    });
    all(&api, 101, "disable: self", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/admin/disable", admin, &[])
    });
    all(&api, 403, "disable: not managed", |v, f, _| {
        api.send(Method::PUT, v, f, "/users/carl/disable", sub, &[])
    });
    all(&api, 100, "delete", |v, f, n| {
        api.send(Method::DELETE, v, f, &format!("/users/new{n}"), admin, &[])
    });
    all(&api, 101, "delete: missing", |v, f, _| {
        api.send(Method::DELETE, v, f, "/users/ghost", admin, &[])
    });
    all(&api, 101, "delete: self", |v, f, _| {
        api.send(Method::DELETE, v, f, "/users/admin", admin, &[])
    });
}

#[test]
fn group_membership_and_subadmin_endpoints() {
    let api = Api::start("");
    api.user("sub", "Sub-admin-pass-1", &["team"]);
    api.user("bob", "Bob-regular-pass-1", &["team"]);
    api.d.cli(&["group", "add", "others"], None);
    let admin = api.admin();
    let sub = ("sub", "Sub-admin-pass-1");
    let bob = ("bob", "Bob-regular-pass-1");

    all(&api, 100, "promote", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/sub/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 101, "promote: no user", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/ghost/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 102, "promote: no group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/sub/subadmins",
            admin,
            &[("groupid", "nope")],
        )
    });
    all(&api, 103, "promote: admin group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/sub/subadmins",
            admin,
            &[("groupid", "admin")],
        )
    });
    all(&api, 403, "promote: not an admin", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/subadmins",
            sub,
            &[("groupid", "team")],
        )
    });
    all(&api, 100, "subadmin groups", |v, f, _| {
        api.send(Method::GET, v, f, "/users/sub/subadmins", admin, &[])
    });
    assert_eq!(
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/sub/subadmins",
            admin,
            &[]
        )
        .data,
        serde_json::json!(["team"])
    );
    all(&api, 101, "subadmin groups: no user", |v, f, _| {
        api.send(Method::GET, v, f, "/users/ghost/subadmins", admin, &[])
    });

    all(&api, 100, "groups of a user", |v, f, _| {
        api.send(Method::GET, v, f, "/users/bob/groups", sub, &[])
    });
    assert_eq!(
        api.send(Method::GET, "v2", "json", "/users/bob/groups", bob, &[])
            .data["groups"],
        serde_json::json!(["team"])
    );
    all(&api, 998, "groups: no user", |v, f, _| {
        api.send(Method::GET, v, f, "/users/ghost/groups", admin, &[])
    });

    all(&api, 100, "add to group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "others")],
        )
    });
    all(&api, 101, "add: no group given", |v, f, _| {
        api.send(Method::POST, v, f, "/users/bob/groups", admin, &[])
    });
    all(&api, 102, "add: no such group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "nope")],
        )
    });
    all(&api, 103, "add: no such user", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/ghost/groups",
            admin,
            &[("groupid", "others")],
        )
    });
    all(&api, 104, "add: not the subadmin's group", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/groups",
            sub,
            &[("groupid", "others")],
        )
    });
    all(&api, 100, "remove from group", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "others")],
        )
    });
    all(&api, 101, "remove: no group given", |v, f, _| {
        api.send(Method::DELETE, v, f, "/users/bob/groups", admin, &[])
    });
    all(&api, 102, "remove: no such group", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "nope")],
        )
    });
    all(&api, 103, "remove: no such user", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/ghost/groups",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 104, "remove: not the subadmin's group", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/groups",
            sub,
            &[("groupid", "others")],
        )
    });
    all(&api, 105, "remove: admin leaves admin", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/admin/groups",
            admin,
            &[("groupid", "admin")],
        )
    });
    all(&api, 105, "remove: subadmin leaves own group", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/sub/groups",
            sub,
            &[("groupid", "team")],
        )
    });

    all(&api, 100, "demote", |v, f, n| {
        if n > 0 {
            api.send(
                Method::POST,
                "v1",
                "xml",
                "/users/sub/subadmins",
                admin,
                &[("groupid", "team")],
            );
        }
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/sub/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 101, "demote: no user", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/ghost/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 102, "demote: not a subadmin", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 102, "demote: no group", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/subadmins",
            admin,
            &[("groupid", "nope")],
        )
    });

    // groups instruction set
    all(&api, 100, "group list", |v, f, _| {
        api.send(Method::GET, v, f, "/groups?search=te", admin, &[])
    });
    assert_eq!(
        api.send(Method::GET, "v2", "json", "/groups?search=te", admin, &[])
            .data["groups"],
        serde_json::json!(["team"])
    );
    all(&api, 100, "group create", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/groups",
            admin,
            &[("groupid", &format!("g{n}"))],
        )
    });
    all(&api, 101, "group create: invalid", |v, f, _| {
        api.send(Method::POST, v, f, "/groups", admin, &[("groupid", "a/b")])
    });
    all(&api, 101, "group create: empty", |v, f, _| {
        api.send(Method::POST, v, f, "/groups", admin, &[])
    });
    all(&api, 102, "group create: exists", |v, f, _| {
        api.send(Method::POST, v, f, "/groups", admin, &[("groupid", "team")])
    });
    all(&api, 403, "group create: not admin", |v, f, _| {
        api.send(Method::POST, v, f, "/groups", bob, &[("groupid", "mine")])
    });
    all(&api, 100, "group members", |v, f, _| {
        api.send(Method::GET, v, f, "/groups/team", admin, &[])
    });
    assert_eq!(
        api.send(Method::GET, "v2", "json", "/groups/team", admin, &[])
            .data["users"],
        serde_json::json!(["bob", "sub"])
    );
    all(&api, 998, "group members: missing", |v, f, _| {
        api.send(Method::GET, v, f, "/groups/nope", admin, &[])
    });
    all(&api, 100, "group subadmins", |v, f, _| {
        api.send(Method::GET, v, f, "/groups/team/subadmins", admin, &[])
    });
    all(&api, 101, "group subadmins: missing", |v, f, _| {
        api.send(Method::GET, v, f, "/groups/nope/subadmins", admin, &[])
    });
    all(&api, 100, "group delete", |v, f, n| {
        api.send(Method::DELETE, v, f, &format!("/groups/g{n}"), admin, &[])
    });
    all(&api, 101, "group delete: missing", |v, f, _| {
        api.send(Method::DELETE, v, f, "/groups/nope", admin, &[])
    });
    all(&api, 102, "group delete: admin", |v, f, _| {
        api.send(Method::DELETE, v, f, "/groups/admin", admin, &[])
    });
}

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
    all(&api, 100, "apps", |v, f, _| {
        api.send(Method::GET, v, f, "/apps", admin, &[])
    });
    all(&api, 101, "apps: bad filter", |v, f, _| {
        api.send(Method::GET, v, f, "/apps?filter=sideways", admin, &[])
    });
    all(&api, 100, "app info", |v, f, _| {
        api.send(Method::GET, v, f, "/apps/user_imap", admin, &[])
    });
    all(&api, 998, "app info: unknown", |v, f, _| {
        api.send(Method::GET, v, f, "/apps/files", admin, &[])
    });
    all(&api, 403, "apps: not admin", |v, f, _| {
        api.send(
            Method::GET,
            v,
            f,
            "/apps",
            ("bob", "Bob-regular-pass-1"),
            &[],
        )
    });
    // App passwords work, then not once their module is off, then again.
    assert_eq!(
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/bob",
            ("bob", &token),
            &[]
        )
        .http,
        200
    );
    all(&api, 100, "disable app_passwords", |v, f, _| {
        api.send(Method::DELETE, v, f, "/apps/app_passwords", admin, &[])
    });
    assert_eq!(
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/bob",
            ("bob", &token),
            &[]
        )
        .http,
        401
    );
    let disabled = api
        .send(
            Method::GET,
            "v2",
            "json",
            "/apps?filter=disabled",
            admin,
            &[],
        )
        .data;
    assert_eq!(disabled["apps"], serde_json::json!(["app_passwords"]));
    // Persisted: a restart keeps it off.
    let mut api = api;
    api.d.stop();
    api.d.restart();
    let admin = api.admin();
    assert_eq!(
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/bob",
            ("bob", &token),
            &[]
        )
        .http,
        401
    );
    all(&api, 100, "enable app_passwords", |v, f, _| {
        api.send(Method::POST, v, f, "/apps/app_passwords", admin, &[])
    });
    assert_eq!(
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/bob",
            ("bob", &token),
            &[]
        )
        .http,
        200
    );
    all(&api, 101, "disable the API itself", |v, f, _| {
        api.send(Method::DELETE, v, f, "/apps/provisioning_api", admin, &[])
    });
    // The password policy can be switched off too.
    api.send(
        Method::DELETE,
        "v1",
        "xml",
        "/apps/password_policy",
        admin,
        &[],
    );
    all(&api, 100, "weak password without the policy", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", &format!("weak{n}")), ("password", "short")],
        )
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
    let users = api
        .send(Method::GET, "v2", "json", "/users", admin, &[])
        .data;
    assert_eq!(users["users"], serde_json::json!(["admin"]));
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
    assert_eq!(check("bob", "Bob-regular-pass-1"), (204, None));
    assert_eq!(check("carol@example.org", "whatever-pw"), (503, None));
    let (status, challenge) = check("bob", "wrong-password-1");
    assert_eq!(status, 401);
    assert!(challenge.unwrap().starts_with("Basic realm="));
    // The next attempt from this address is throttled before any backend.
    assert_eq!(check("bob", "Bob-regular-pass-1").0, 429);
    let a = api.send(
        Method::GET,
        "v1",
        "json",
        "/users/bob",
        ("bob", "Bob-regular-pass-1"),
        &[],
    );
    assert_eq!((a.http, a.code), (429, 429), "{}", a.body);
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
    let a = api.send(
        Method::POST,
        "v2",
        "json",
        "/users",
        admin,
        &[("userid", "dora"), ("email", "dora@example.org")],
    );
    check(&a, "v2", 100, "add with welcome");
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
    let a = api.send(
        Method::GET,
        "v2",
        "json",
        "/users/dora",
        ("dora", "Dora-chose-this-1"),
        &[],
    );
    check(&a, "v2", 100, "dora logs in with her own password");

    // Resend (also a reset, for any user with an address): codes 100, 101, 102.
    all(&api, 100, "welcome", |v, f, _| {
        api.send(Method::POST, v, f, "/users/dora/welcome", admin, &[])
    });
    assert_eq!(smtp.messages().len(), 5);
    api.user("eve", "Eve-has-no-mail-1", &[]);
    all(&api, 101, "welcome: no address", |v, f, _| {
        api.send(Method::POST, v, f, "/users/eve/welcome", admin, &[])
    });
    drop(smtp);
    all(&api, 102, "welcome: relay down", |v, f, _| {
        api.send(Method::POST, v, f, "/users/dora/welcome", admin, &[])
    });
    all(&api, 109, "add: relay down", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[("userid", &format!("fay{n}")), ("email", "fay@example.org")],
        )
    });
    let users = api
        .send(Method::GET, "v2", "json", "/users?search=fay", admin, &[])
        .data;
    assert_eq!(
        users["users"],
        serde_json::json!([]),
        "a failed invitation leaves no user"
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
    d.cli(
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
    d.cli(&["user", "welcome", "--reset-password", "gus"], None);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(
        link_in(&mails[0].replace("https://", "http://"))
            .starts_with("http://id.example.org/password/set?token="),
        "{}",
        mails[0]
    );
    // The old password no longer works.
    let out = d
        .command()
        .args(["check", "--password-from-env", "gus"])
        .env("AUTHBRIDGE_PASSWORD", "Gus-old-password-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
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

/// nginx (Debian's) in front of a static site, asking /auth/check per request.
#[test]
fn nginx_auth_request_uses_auth_check() {
    let api = Api::start("");
    api.user("bob", "Bob-regular-pass-1", &[]);
    let dir = authbridge_testsupport::server_dir("abnginx");
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "members only\n").unwrap();
    let port = free_port();
    let d = dir.path().display();
    let upstream = api.d.http.unwrap();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/t1;\nproxy_temp_path {d}/t2;\nfastcgi_temp_path {d}/t3;\n\
         uwsgi_temp_path {d}/t4;\nscgi_temp_path {d}/t5;\n\
         server {{\n listen 127.0.0.1:{port};\n root {d}/www;\n\
          location / {{\n  auth_request /authbridge-check;\n  auth_request_set $ab_user $upstream_http_x_authbridge_user;\n\
           add_header X-Authbridge-User $ab_user always;\n  error_page 401 = @ask;\n }}\n\
          location = /authbridge-check {{\n  internal;\n  proxy_pass http://{upstream}/auth/check;\n\
           proxy_pass_request_body off;\n  proxy_set_header Content-Length \"\";\n  proxy_set_header Authorization $http_authorization;\n\
           proxy_set_header X-Forwarded-For $remote_addr;\n }}\n\
          location @ask {{\n  add_header WWW-Authenticate 'Basic realm=\"example\"' always;\n  return 401;\n }}\n}}\n}}\n"
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
        let mut r = api.http.get(format!("http://127.0.0.1:{port}/"));
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        let r = r.send().unwrap();
        let user = r
            .headers()
            .get("x-authbridge-user")
            .map(|v| v.to_str().unwrap().to_owned());
        let challenge = r.headers().get("www-authenticate").is_some();
        (r.status().as_u16(), user, challenge, r.text().unwrap())
    };
    let ok = get(Some(("bob", "Bob-regular-pass-1")));
    let wrong = get(Some(("bob", "not-bobs-password")));
    let none = get(None);
    let _ = nginx.kill();
    let _ = nginx.wait();
    assert_eq!(
        (ok.0, ok.1.as_deref(), ok.3.as_str()),
        (200, Some("bob"), "members only\n")
    );
    assert_eq!((wrong.0, wrong.2), (401, true), "{wrong:?}");
    assert_eq!((none.0, none.2), (401, true), "{none:?}");
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
    all(&api, 103, "add user: unknown error", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", &format!("z{n}")),
                ("password", "A-good-password-42"),
            ],
        )
    });
    all(&api, 103, "create group: failed", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/groups",
            admin,
            &[("groupid", &format!("g{n}"))],
        )
    });
    all(&api, 105, "add to group: failed", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "other")],
        )
    });
    all(&api, 105, "remove from group: failed", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/groups",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 103, "promote: unknown failure", |v, f, _| {
        api.send(
            Method::POST,
            v,
            f,
            "/users/bob/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    // Reads that fail: the subadmins table is gone.
    db.execute_batch("DROP TABLE subadmins").unwrap();
    all(&api, 103, "demote: unknown failure", |v, f, _| {
        api.send(
            Method::DELETE,
            v,
            f,
            "/users/bob/subadmins",
            admin,
            &[("groupid", "team")],
        )
    });
    all(&api, 102, "subadmin groups: unknown failure", |v, f, _| {
        api.send(Method::GET, v, f, "/users/bob/subadmins", admin, &[])
    });
    all(&api, 102, "group subadmins: unknown failure", |v, f, _| {
        api.send(Method::GET, v, f, "/groups/team/subadmins", admin, &[])
    });
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
    type Call<'a> = (&'a str, Method, &'a str, &'a [(&'a str, &'a str)]);
    let calls: [Call; 3] = [
        (
            "add to a group",
            Method::POST,
            "/users/bob/groups",
            &[("groupid", "team")],
        ),
        ("list groups", Method::GET, "/groups", &[]),
        ("a group's members", Method::GET, "/groups/team", &[]),
    ];
    for (what, method, path, form) in calls {
        all(&api, 996, what, |v, f, _| {
            api.send(method.clone(), v, f, path, admin, form)
        });
    }
    all(&api, 996, "create a user in a group", |v, f, n| {
        api.send(
            Method::POST,
            v,
            f,
            "/users",
            admin,
            &[
                ("userid", &format!("y{n}")),
                ("password", "A-good-password-42"),
                ("groups[]", "team"),
            ],
        )
    });
    db.execute_batch("ALTER TABLE groups_gone RENAME TO groups")
        .unwrap();
    // The profile table this time: a user that exists is shown whole or not at all.
    db.execute_batch("ALTER TABLE profile RENAME TO profile_gone")
        .unwrap();
    all(&api, 996, "a user's data", |v, f, _| {
        api.send(Method::GET, v, f, "/users/bob", admin, &[])
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
        let a = api.send(
            Method::POST,
            "v1",
            "json",
            "/users",
            api.admin(),
            &[("userid", uid), ("password", "A-fine-password-1")],
        );
        check(&a, "v1", 101, uid);
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
    let a = api.send(
        Method::POST,
        "v2",
        "json",
        "/groups",
        api.admin(),
        &[("groupid", "sudo")],
    );
    check(&a, "v2", 100, "create sudo");
    assert!(a.body.contains("never exported over NSS"), "{}", a.body);
    let plain = api.send(
        Method::POST,
        "v2",
        "json",
        "/groups",
        api.admin(),
        &[("groupid", "physics")],
    );
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
    let a = api.send(
        Method::POST,
        "v1",
        "json",
        "/users/u2/groups",
        api.admin(),
        &[("groupid", "Admin")],
    );
    check(&a, "v1", 100, "add to Admin");
    // The membership is the admin group's, visible under its own name ...
    let members = api.send(Method::GET, "v1", "json", "/groups/admin", api.admin(), &[]);
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
    let read = api.send(Method::GET, "v2", "json", "/users/admin", u2, &[]);
    check(&read, "v2", 100, "u2 is an admin");
    let a = api.send(
        Method::DELETE,
        "v1",
        "json",
        "/users/u2/groups",
        api.admin(),
        &[("groupid", "admin")],
    );
    check(&a, "v1", 100, "remove from admin");
    let read = api.send(Method::GET, "v2", "json", "/users/admin", u2, &[]);
    check(&read, "v2", 403, "u2 is no admin any more");
}

#[test]
fn an_app_password_cannot_replace_the_login_password_and_resets_revoke_app_passwords() {
    let api = Api::start("revoke_app_passwords_on_reset = true\n");
    api.user("u1", "U1-pass-123456", &[]);
    let token = api.d.app_password("u1");
    let by_token = ("u1", token.as_str());
    let a = api.send(
        Method::PUT,
        "v2",
        "json",
        "/users/u1",
        by_token,
        &[("key", "password"), ("value", "Taken-over-pass-1")],
    );
    check(&a, "v2", 403, "own password with an app password");
    assert_eq!(api.auth_check(("u1", "U1-pass-123456"), None), 204);
    // With the login password it works, and (as configured) ends the app passwords.
    let a = api.send(
        Method::PUT,
        "v2",
        "json",
        "/users/u1",
        ("u1", "U1-pass-123456"),
        &[("key", "password"), ("value", "U1-new-pass-7890")],
    );
    check(&a, "v2", 100, "own password with the login password");
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
        let a = api.send(
            Method::POST,
            "v1",
            "json",
            "/users",
            api.admin(),
            &[("userid", "fresh"), ("password", bad)],
        );
        check(&a, "v1", 107, "add");
        assert!(a.body.contains("CR, LF or NUL"), "{}", a.body);
        let a = api.send(
            Method::PUT,
            "v1",
            "json",
            "/users/u1",
            api.admin(),
            &[("key", "password"), ("value", bad)],
        );
        check(&a, "v1", 107, "edit");
    }
    assert_eq!(api.auth_check(("u1", "U1-pass-123456"), None), 204);
}

#[test]
fn a_subadmin_gets_the_same_answer_for_missing_users_and_users_outside_their_groups() {
    let api = Api::start("");
    // `user add -g` creates the groups.
    api.user("sam", "Sam-pass-12345", &["g1"]);
    api.user("other", "Other-pass-1234", &["g2"]);
    let a = api.send(
        Method::POST,
        "v1",
        "json",
        "/users/sam/subadmins",
        api.admin(),
        &[("groupid", "g1")],
    );
    check(&a, "v1", 100, "promote");
    let sam = ("sam", "Sam-pass-12345");
    for (method, path, form) in [
        (Method::GET, "/users/{u}", vec![]),
        (
            Method::PUT,
            "/users/{u}",
            vec![("key", "email"), ("value", "x@example.org")],
        ),
        (Method::PUT, "/users/{u}/disable", vec![]),
        (Method::DELETE, "/users/{u}", vec![]),
        (Method::GET, "/users/{u}/groups", vec![]),
        (Method::POST, "/users/{u}/groups", vec![("groupid", "g1")]),
    ] {
        let ask = |uid: &str| {
            let a = api.send(
                method.clone(),
                "v2",
                "json",
                &path.replace("{u}", uid),
                sam,
                &form,
            );
            (a.http, a.code, a.data.to_string())
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
    check(
        &api.send(
            Method::POST,
            "v1",
            "json",
            "/users/sam/subadmins",
            api.admin(),
            &[("groupid", "g1")],
        ),
        "v1",
        100,
        "promote",
    );
    let sam = ("sam", "Sam-pass-12345");
    for uid in ["bob", "bob@example.org"] {
        let a = api.send(
            Method::POST,
            "v1",
            "json",
            "/users",
            sam,
            &[
                ("userid", uid),
                ("password", "Bob-local-pass-1"),
                ("groups[]", "g1"),
            ],
        );
        check(&a, "v1", 105, uid);
        assert!(a.body.contains("only an admin"), "{}", a.body);
    }
    // A name the mail server would not serve (another domain) is the subadmin's.
    let a = api.send(
        Method::POST,
        "v1",
        "json",
        "/users",
        sam,
        &[
            ("userid", "bob@other.org"),
            ("password", "Bob-local-pass-1"),
            ("groups[]", "g1"),
        ],
    );
    check(&a, "v1", 100, "another domain");
    let a = api.send(
        Method::POST,
        "v1",
        "json",
        "/users",
        api.admin(),
        &[("userid", "bob"), ("password", "Bob-local-pass-1")],
    );
    check(&a, "v1", 100, "an admin may");
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
    // Each is closed by the server: at once past the caps, else at its deadline.
    let started = std::time::Instant::now();
    for s in &mut held {
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
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
        check(
            &api.send(
                Method::POST,
                "v1",
                "json",
                "/users/ida/welcome",
                api.admin(),
                &[],
            ),
            "v1",
            100,
            "welcome",
        );
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
        check(
            &api.send(
                Method::PUT,
                "v1",
                "json",
                "/users/ida",
                api.admin(),
                &[("key", key), ("value", value)],
            ),
            "v1",
            100,
            key,
        )
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
    let a = api.send(
        Method::POST,
        "v1",
        "json",
        "/users",
        api.admin(),
        &[("userid", "joe"), ("email", "joe@example.org")],
    );
    check(&a, "v1", 100, "add with welcome");
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
        api.send(
            Method::GET,
            "v2",
            "json",
            "/users/carol",
            ("carol", password),
            &[],
        )
        .http
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
