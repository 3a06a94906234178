//! A case's setup: the groups and users its fixture needs, made as the admin in a
//! fresh namespace of the run; made once for all variants of a fixture where
//! nothing its requests do can change them.

use crate::case::{Context, Space};
use crate::client::{Outgoing, Variant, encode};
use crate::fixture::{Fixture, Method, Setup};
use crate::names::{self, RunPrefix};
use crate::result::{CaseReport, Exchange, Finding};
use reqwest::Method as Http;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// The setups of one run, each in a namespace of the run's prefix.
pub(crate) struct Setups {
    prefix: RunPrefix,
    /// The number of the next namespace.
    next: AtomicUsize,
    /// Setups shared by the variants of a fixture (see [`shares_setup`]), by
    /// fixture id.
    shared: Mutex<HashMap<String, Arc<OnceCell<Prepared>>>>,
}

/// A fixture's setup, done.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) space: Space,
    /// The first refusal, which ended the setup.
    pub(crate) failure: Option<Finding>,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) server_time: Duration,
}

impl Setups {
    pub(crate) fn new(prefix: RunPrefix) -> Setups {
        Setups {
            prefix,
            next: AtomicUsize::new(0),
            shared: Mutex::default(),
        }
    }

    /// What every id the run creates starts with.
    pub(crate) fn prefix(&self) -> &RunPrefix {
        &self.prefix
    }

    /// The fixture's setup: its own for this case, or the one its variants share.
    /// The setup's exchanges are reported with each case, its server time with
    /// the first only.
    pub(crate) async fn prepared(
        &self,
        context: Context<'_>,
        fixture: &Fixture,
        variant: Variant,
        report: &mut CaseReport,
    ) -> Prepared {
        if !shares_setup(fixture) {
            let prepared = self.prepare(context, fixture, variant).await;
            report.server_time += prepared.server_time;
            report.exchanges.extend(prepared.exchanges.iter().cloned());
            return prepared;
        }
        let cell = {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(shared.entry(fixture.id.clone()).or_default())
        };
        let first = AtomicBool::new(false);
        let prepared = cell
            .get_or_init(|| async {
                first.store(true, Ordering::Relaxed);
                self.prepare(context, fixture, variant).await
            })
            .await
            .clone();
        if first.load(Ordering::Relaxed) {
            report.server_time += prepared.server_time;
        }
        report.exchanges.extend(prepared.exchanges.iter().cloned());
        prepared
    }

    /// Creates the fixture's groups and users as the admin in a fresh namespace;
    /// the first refusal ends it.
    async fn prepare(&self, context: Context<'_>, fixture: &Fixture, variant: Variant) -> Prepared {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let mut prepared = Prepared {
            space: Space {
                ns: self.prefix.case(seq),
                passwords: HashMap::new(),
                fresh_password: names::password(),
            },
            failure: None,
            exchanges: Vec::new(),
            server_time: Duration::ZERO,
        };
        let header = format!("{} [{variant}] setup", fixture.id);
        for step in &fixture.setup {
            let ns = prepared.space.ns.clone();
            let mut requests = Vec::new();
            match step {
                Setup::Group(group) => requests.push(
                    Outgoing::new(Http::POST, "/cloud/groups")
                        .form("groupid", &format!("{ns}{group}")),
                ),
                Setup::User(user) => {
                    let uid = format!("{ns}{}", user.name);
                    let password = names::password();
                    let mut create = Outgoing::new(Http::POST, "/cloud/users")
                        .form("userid", &uid)
                        .form("password", &password);
                    for g in &user.groups {
                        create = create.form("groups[]", &format!("{ns}{g}"));
                    }
                    if let Some(email) = &user.email {
                        create = create.form("email", &context.fill(&prepared.space, email));
                    }
                    if let Some(name) = &user.displayname {
                        create = create.form("displayName", &context.fill(&prepared.space, name));
                    }
                    requests.push(create);
                    for g in &user.subadmin {
                        requests.push(
                            Outgoing::new(
                                Http::POST,
                                format!("/cloud/users/{}/subadmins", encode(&uid)),
                            )
                            .form("groupid", &format!("{ns}{g}")),
                        );
                    }
                    if user.disabled {
                        requests.push(Outgoing::new(
                            Http::PUT,
                            format!("/cloud/users/{}/disable", encode(&uid)),
                        ));
                    }
                    prepared.space.passwords.insert(user.name.clone(), password);
                }
            }
            for request in requests {
                let (user, password) = context.server.admin();
                let request = request.as_user((user.as_str(), password.as_str()));
                let sent = context
                    .server
                    .exchange(
                        &request,
                        variant,
                        &header,
                        &mut prepared.exchanges,
                        &mut prepared.server_time,
                    )
                    .await;
                let problem = match sent {
                    Ok(answer) if answer.succeeded() => continue,
                    Ok(answer) => answer.describe(),
                    Err(e) => e.to_string(),
                };
                prepared.failure = Some(Finding::fail(
                    format!("setup {}", request.line(variant)),
                    "statuscode 100",
                    problem,
                ));
                return prepared;
            }
        }
        prepared
    }
}

/// Whether the variants of `fixture` can share one setup: all of its requests
/// are GETs, and none sends a wrong password (failures are throttled per user).
/// A write documented to fail is not enough: a server may create and then undo
/// (a user whose invitation mail fails, 109), and a variant running beside it
/// in the same namespace would meet the name in between.
fn shares_setup(fixture: &Fixture) -> bool {
    let requests = std::iter::once(&fixture.request).chain(fixture.then.iter().map(|s| &s.request));
    !fixture.global
        && fixture.teardown.is_empty()
        && requests
            .into_iter()
            .all(|r| r.password.is_none() && r.method == Method::Get)
}
