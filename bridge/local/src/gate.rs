//! The store decides: a disabled account gets in by no backend at all, and every
//! accepted external login is recorded. Wraps the chain of authenticators.

use authbridge_core::{
    Attempt, BackendKind, Chain, Credentials, Decision, Outcome, RejectReason, Verdict,
};
use authbridge_store::{SqliteStore, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub struct Gate {
    chain: Chain,
    store: Arc<SqliteStore>,
    clock: fn() -> i64,
}

fn disabled(uid: &str) -> Decision {
    tracing::info!(uid, "refused: the account is disabled");
    Decision {
        outcome: Outcome::Rejected,
        attempts: vec![Attempt {
            backend: "store".into(),
            kind: BackendKind::Database,
            verdict: Verdict::Rejected(RejectReason::AccountDisabled),
            elapsed: Duration::ZERO,
        }],
    }
}

impl Gate {
    pub fn new(chain: Chain, store: Arc<SqliteStore>, clock: fn() -> i64) -> Self {
        Gate {
            chain,
            store,
            clock,
        }
    }

    fn is_disabled(&self, uid: &str) -> bool {
        match self.store.user(uid) {
            Ok(user) => !user.enabled,
            Err(StoreError::NoSuchUser(_)) => false,
            // Cannot tell: refuse rather than let a possibly disabled user in.
            Err(e) => {
                tracing::warn!(uid, "store unreadable, refusing: {e}");
                true
            }
        }
    }

    pub async fn authenticate(&self, credentials: &Credentials) -> Decision {
        // A disabled account known by this login never reaches a backend.
        if self.is_disabled(credentials.login()) {
            return disabled(credentials.login());
        }
        let decision = self.chain.authenticate(credentials).await;
        let Outcome::Accepted {
            uid, kind, groups, ..
        } = &decision.outcome
        else {
            return decision;
        };
        // The backend may map the login to another uid (e.g. a mail domain stripped).
        if self.is_disabled(uid) {
            return disabled(uid);
        }
        if !matches!(kind, BackendKind::Database | BackendKind::AppPassword)
            && let Err(e) = self
                .store
                .record_login(uid, kind.as_str(), groups, (self.clock)())
        {
            tracing::warn!(uid, "accepted, but the login could not be recorded: {e}");
        }
        decision
    }
}
