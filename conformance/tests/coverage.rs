//! Every endpoint and every status code the documents in `shared/seeds` list has
//! a fixture, or an entry in `fixtures/UNPROVOKABLE.toml` saying why none can
//! exist; and no fixture expects a code the documents do not list for an
//! endpoint they document (the authentication fixtures aside: 997 is OCS's own
//! answer for every endpoint). An endpoint the two instruction sets do not
//! document (`GET /cloud/user`, `POST /cloud/users/{userid}/wipe`, the
//! capabilities…) is held to what its fixture cites: such fixtures are
//! `level = "should"` and name another seed document (nc_py_api's) or the
//! Nextcloud source file they were read from. Every fixture cites a seed
//! document or a Nextcloud source file.

use ocs_conformance::fixture;
use std::collections::BTreeSet;
use std::path::PathBuf;

const DOCUMENTS: &[&str] = &[
    "ocs-instruction-set-for-users.txt",
    "user-management-external-backends-and-provisioning-api.txt",
];

fn seeds() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds");
    assert!(
        dir.is_dir(),
        "{} is missing: the repository is checked out with shared/ beside it",
        dir.display()
    );
    dir
}

/// `(method, path, code)` for each documented status code, path as documented
/// below `ocs/v1.php` (`/cloud/users/{userid}/groups`).
fn documented(text: &str) -> BTreeSet<(String, String, u32)> {
    let code_line = regex::Regex::new(r"^\s*[•-]\s*(\d{3})\s*-").unwrap();
    let mut found = BTreeSet::new();
    let (mut path, mut method, mut in_codes) = (None::<String>, None::<String>, false);
    for line in text.lines() {
        if let Some((_, rest)) = line.split_once("Syntax: ocs/v1.php") {
            path = Some(rest.trim().trim_end_matches('/').to_owned());
            method = None;
            in_codes = false;
        } else if let Some((_, m)) = line.split_once("HTTP method:") {
            method = Some(m.trim().to_owned());
        } else if line.trim_start().starts_with("Status codes:")
            || line.trim_start().starts_with("Statuscodes:")
        {
            in_codes = true;
        } else if line.trim_start().starts_with("Example") {
            in_codes = false;
        } else if in_codes && let Some(c) = code_line.captures(line) {
            let (Some(p), Some(m)) = (&path, &method) else {
                panic!("a status code before its endpoint: {line}");
            };
            found.insert((m.clone(), p.clone(), c[1].parse().unwrap()));
        }
    }
    found
}

/// A fixture's request path in the documents' terms. `details` after `users`
/// or `groups` is Nextcloud's route of that name (`GET /cloud/users/details`),
/// not an id.
fn documented_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let placeholder = match (i.checked_sub(1).map(|j| parts[j]), i) {
            (_, 3) if *part == "details" => None,
            (Some("users"), 3) => Some("{userid}"),
            (Some("groups"), 3) => Some("{groupid}"),
            (Some("apps"), 3) => Some("{appid}"),
            _ => None,
        };
        out.push(placeholder.unwrap_or(part));
    }
    out.join("/")
}

#[test]
fn every_documented_code_has_a_fixture_or_a_reason() {
    let mut docs = BTreeSet::new();
    for name in DOCUMENTS {
        let text = std::fs::read_to_string(seeds().join(name)).unwrap();
        let found = documented(&text);
        assert!(
            found.len() > 20,
            "{name}: only {} codes parsed",
            found.len()
        );
        docs.extend(found);
    }
    let dir = ocs_conformance::default_fixture_dir();
    let fixtures = fixture::load_dir(&dir).unwrap();
    let covered: BTreeSet<(String, String, u32)> = fixtures
        .iter()
        .map(|f| {
            (
                f.request.method.to_string(),
                documented_path(&f.request.path),
                f.expect.statuscode,
            )
        })
        .collect();
    let unprovokable: BTreeSet<(String, String, u32)> = fixture::load_unprovokable(&dir)
        .unwrap()
        .into_iter()
        .map(|u| {
            let (m, p) = u.endpoint.split_once(' ').unwrap();
            (m.to_owned(), p.to_owned(), u.statuscode)
        })
        .collect();
    let missing: Vec<_> = docs
        .iter()
        .filter(|d| !covered.contains(*d) && !unprovokable.contains(*d))
        .collect();
    assert!(
        missing.is_empty(),
        "documented, without a fixture or a reason: {missing:#?}"
    );
    let reasoned_but_tested: Vec<_> = unprovokable.intersection(&covered).collect();
    assert!(reasoned_but_tested.is_empty(), "{reasoned_but_tested:?}");
    let endpoints: BTreeSet<(&str, &str)> = docs
        .iter()
        .map(|(m, p, _)| (m.as_str(), p.as_str()))
        .collect();
    let endpoint_documented = |f: &fixture::Fixture| {
        let path = documented_path(&f.request.path);
        endpoints.contains(&(f.request.method.name(), path.as_str()))
    };
    let undocumented: Vec<_> = fixtures
        .iter()
        .filter(|f| !f.id.starts_with("auth/") && endpoint_documented(f))
        .filter(|f| {
            let key = (
                f.request.method.to_string(),
                documented_path(&f.request.path),
                f.expect.statuscode,
            );
            !docs.contains(&key)
        })
        .map(|f| &f.id)
        .collect();
    assert!(
        undocumented.is_empty(),
        "fixtures for codes the documents do not list: {undocumented:?}"
    );
    // An endpoint the instruction sets do not document: what the fixture
    // expects comes from elsewhere, so it warns rather than fails, and says
    // where it was read.
    let beyond: Vec<_> = fixtures
        .iter()
        .filter(|f| !f.id.starts_with("auth/") && !endpoint_documented(f))
        .filter(|f| {
            f.level != fixture::Level::Should
                || !(cites_other_seed(&f.source) || cites_nextcloud(&f.source))
        })
        .map(|f| &f.id)
        .collect();
    assert!(
        beyond.is_empty(),
        "fixtures for endpoints the instruction sets do not document must be level = \"should\" \
         and cite nc-py-api-users.txt or a Nextcloud source file: {beyond:?}"
    );
}

/// Whether `source` names a seed document other than the two instruction sets.
fn cites_other_seed(source: &str) -> bool {
    std::fs::read_dir(seeds())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !DOCUMENTS.contains(&name.as_str()))
        .any(|name| source.contains(&name))
}

/// Whether `source` names a file of nextcloud/server by its path
/// (`apps/provisioning_api/lib/Controller/UsersController.php`).
fn cites_nextcloud(source: &str) -> bool {
    regex::Regex::new(r"\b(apps|core|lib)/[A-Za-z0-9_./-]+\.php\b")
        .unwrap()
        .is_match(source)
}

#[test]
fn every_fixture_cites_a_seed_document_or_a_nextcloud_source_file() {
    let fixtures = fixture::load_dir(&ocs_conformance::default_fixture_dir()).unwrap();
    let seeds: Vec<String> = std::fs::read_dir(seeds())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let uncited: Vec<_> = fixtures
        .iter()
        .filter(|f| {
            !seeds.iter().any(|s| f.source.contains(s.as_str())) && !cites_nextcloud(&f.source)
        })
        .map(|f| (&f.id, &f.source))
        .collect();
    assert!(
        uncited.is_empty(),
        "sources naming no seed document and no Nextcloud file: {uncited:#?}"
    );
}

#[test]
fn fixture_paths_map_to_documented_paths() {
    assert_eq!(
        documented_path("/cloud/users/{p}frank/groups"),
        "/cloud/users/{userid}/groups"
    );
    assert_eq!(
        documented_path("/cloud/groups/{p}g1"),
        "/cloud/groups/{groupid}"
    );
    assert_eq!(documented_path("/cloud/apps/{app}"), "/cloud/apps/{appid}");
    assert_eq!(documented_path("/cloud/users"), "/cloud/users");
    assert_eq!(
        documented_path("/cloud/users/details"),
        "/cloud/users/details"
    );
    assert_eq!(
        documented_path("/cloud/groups/{p}g1/users/details"),
        "/cloud/groups/{groupid}/users/details"
    );
    assert!(cites_nextcloud(
        "x; apps/provisioning_api/lib/Controller/UsersController.php (getCurrentUser)"
    ));
    assert!(!cites_nextcloud("UsersController.php"));
}
