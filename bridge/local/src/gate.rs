//! The store decides: a disabled account gets in by no backend at all, and every
//! accepted external login is recorded. Wraps the chain of authenticators.

use authbridge_core::{
    Attempt, BackendKind, Chain, Credentials, Decision, Outcome, RejectReason, UnavailableKind,
    Verdict,
};
use authbridge_store::{SharedStore, StoreError};

use crate::names::{ADMIN_GROUP, Names};
use std::sync::Arc;
use std::time::Duration;

pub struct Gate {
    chain: Chain,
    store: SharedStore,
    clock: fn() -> i64,
    names: Arc<Names>,
}

fn disabled(uid: &str) -> Decision {
    tracing::info!(?uid, "refused: the account is disabled");
    rejected_by_store(RejectReason::AccountDisabled)
}

/// A refusal the store made, shown as its own attempt in the decision.
fn rejected_by_store(reason: RejectReason) -> Decision {
    Decision {
        outcome: Outcome::Rejected,
        attempts: vec![Attempt {
            backend: "store".into(),
            kind: BackendKind::Database,
            verdict: Verdict::Rejected(reason),
            elapsed: Duration::ZERO,
        }],
    }
}

/// The store could not be read: whether the account is disabled, or whose it
/// is, cannot be told, so nobody is let in, and nobody is told no either (a
/// right password is not "wrong" because the database is down).
fn store_unavailable(login: &str, e: &StoreError) -> Decision {
    tracing::warn!(?login, "store unreadable, answering unavailable: {e}");
    Decision {
        outcome: Outcome::Unavailable,
        attempts: vec![Attempt {
            backend: "store".into(),
            kind: BackendKind::Database,
            verdict: Verdict::unavailable(UnavailableKind::Connect, e.to_string()),
            elapsed: Duration::ZERO,
        }],
    }
}

/// Whether the store (local passwords, app passwords, the gate's own reads)
/// is what could not answer: then nothing else decides, not even an offline
/// verifier.
pub fn store_failed(decision: &Decision) -> bool {
    decision.outcome == Outcome::Unavailable
        && decision.attempts.iter().any(|a| {
            matches!(a.kind, BackendKind::Database | BackendKind::AppPassword)
                && matches!(&a.verdict, Verdict::Unavailable { kind, .. }
                    // Busy hashing is not the store failing.
                    if *kind != UnavailableKind::Overloaded)
        })
}

/// Whether an external server that checked the password said it is wrong
/// (or the account is disabled there): then no offline verifier may say
/// otherwise, whatever other servers could not answer. (App passwords and
/// local passwords say no to every other password; they do not count.)
pub fn a_backend_said_no(decision: &Decision) -> bool {
    decision.attempts.iter().any(|a| {
        !matches!(a.kind, BackendKind::Database | BackendKind::AppPassword)
            && matches!(
                a.verdict,
                Verdict::Rejected(RejectReason::BadCredentials | RejectReason::AccountDisabled)
            )
    })
}

/// A system account's name (or a denied one): refused before any backend.
fn system_name(refusal: crate::NameRefusal) -> Decision {
    tracing::warn!("refused: {refusal}");
    rejected_by_store(RejectReason::SystemName(refusal.to_string()))
}

impl Gate {
    pub fn new(chain: Chain, store: SharedStore, clock: fn() -> i64, names: Arc<Names>) -> Self {
        Gate {
            chain,
            store,
            clock,
            names,
        }
    }

    /// The external backend that would serve `login` before anyone logged in
    /// with it, if any — whether its module is switched on or not, since one
    /// switched off today may be switched on tomorrow.
    pub fn external_backend_for(&self, login: &str) -> Option<BackendKind> {
        self.chain
            .backends()
            .iter()
            .filter(|b| !matches!(b.kind(), BackendKind::Database | BackendKind::AppPassword))
            .find(|b| b.serves(login))
            .map(|b| b.kind())
    }

    pub async fn authenticate(&self, credentials: &Credentials) -> Decision {
        self.authenticate_where(credentials, &|_| true).await
    }

    /// As [`Gate::authenticate`], asking only backends of the kinds `allowed` lets
    /// through (modules switched off by an admin are not asked).
    pub async fn authenticate_where(
        &self,
        credentials: &Credentials,
        allowed: &(dyn Fn(BackendKind) -> bool + Sync),
    ) -> Decision {
        let login = credentials.login();
        if let Err(refusal) = self.names.check_user(login) {
            return system_name(refusal);
        }
        // App passwords first, as the chain has them first anyway: their one
        // indexed read checks the issuing account's id and state too, so an
        // accepted one needs no other read (the path of every script and client).
        let app_password = BackendKind::AppPassword;
        let first_pass = if allowed(app_password) {
            let first = self
                .chain
                .authenticate_with(credentials, &|kind| kind == app_password)
                .await;
            match &first.outcome {
                Outcome::Accepted { uid, .. } if uid.eq_ignore_ascii_case(login) => return first,
                // Issued to another account: the checks below decide.
                Outcome::Accepted { .. } => None,
                _ => Some(first),
            }
        } else {
            None
        };
        let known_by_login = match self.store.user(login) {
            // A disabled account known by this login never reaches a backend; it
            // costs one (dummy) hash, so timing does not tell it from a wrong password.
            Ok(user) if !user.enabled => {
                let _ = crate::verify_password_bounded(credentials.password().clone(), None).await;
                return disabled(login);
            }
            Ok(user) => Some(user),
            Err(StoreError::NoSuchUser(_)) => None,
            // Cannot tell: nobody in, a possibly disabled user least of all.
            Err(e) => return store_unavailable(login, &e),
        };
        // A known account's password goes to its own backend only (and app
        // passwords): a local user's password is never shown to a mail server.
        let owner = known_by_login.as_ref().map(|u| u.backend.clone());
        let asked_already = first_pass.is_some();
        let ask = move |kind: BackendKind| {
            allowed(kind)
                && !(asked_already && kind == app_password)
                && owner
                    .as_deref()
                    .is_none_or(|owner| kind == app_password || kind.as_str() == owner)
        };
        let decision = self.chain.authenticate_with(credentials, &ask).await;
        let decision = match first_pass {
            Some(first) => decision.after(first),
            None => decision,
        };
        let Outcome::Accepted {
            uid, kind, groups, ..
        } = &decision.outcome
        else {
            return decision;
        };
        // The backend may have mapped the login to another name.
        if let Err(refusal) = self.names.check_user(uid) {
            return system_name(refusal);
        }
        // One lookup for both rules below; the backend may have mapped the login to
        // another uid (e.g. a mail domain stripped).
        // An app password has checked the account's state in its own lookup.
        let rechecked = match known_by_login {
            Some(user)
                if *kind == BackendKind::AppPassword && user.uid.eq_ignore_ascii_case(uid) =>
            {
                Ok(user)
            }
            _ => self.store.user(uid),
        };
        let known = match rechecked {
            Ok(user) => Some(user),
            Err(StoreError::NoSuchUser(_)) => None,
            Err(e) => return store_unavailable(uid, &e),
        };
        if known.as_ref().is_some_and(|u| !u.enabled) {
            return disabled(uid);
        }
        if matches!(kind, BackendKind::Database | BackendKind::AppPassword) {
            return decision;
        }
        // Each account belongs to one backend, as in Nextcloud: a mail server that
        // accepts "bob" does not open the local account "bob" or the SMB one.
        if let Some(user) = known
            && user.backend != kind.as_str()
        {
            tracing::warn!(?uid, owner = %user.backend, by = %kind, "refused: the account belongs to another backend");
            return rejected_by_store(RejectReason::Server(format!(
                "the account {uid} belongs to the {} backend, not {kind}",
                user.backend
            )));
        }
        // Groups a backend derived from a login are ordinary groups: never the
        // admin role, whatever the login said.
        let groups: Vec<String> = groups
            .iter()
            .filter(|g| {
                let role = g.eq_ignore_ascii_case(ADMIN_GROUP);
                if role {
                    tracing::warn!(?uid, group = ?g, "a backend derived the admin group from a login; not joined");
                }
                !role
            })
            .cloned()
            .collect();
        if let Err(e) = self
            .store
            .record_login(uid, kind.as_str(), &groups, (self.clock)())
        {
            tracing::warn!(?uid, "accepted, but the login could not be recorded: {e}");
        }
        decision
    }
}
