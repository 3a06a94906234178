//! The ordered list of backends, tried as Nextcloud tries its `user_backends`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Authenticator, BackendKind, Credentials, Verdict};

/// One backend's answer within a chain run.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub backend: String,
    pub kind: BackendKind,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

/// The final answer of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A backend confirmed the password.
    Accepted {
        backend: String,
        kind: BackendKind,
        uid: String,
        groups: Vec<String>,
    },
    /// Every backend that answered said no, and every backend answered.
    Rejected,
    /// None accepted and at least one could not be asked: the password may be right.
    Unavailable,
}

/// The outcome with every attempt that led to it, for the decision log.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: Outcome,
    pub attempts: Vec<Attempt>,
}

impl Decision {
    /// This decision, made after `earlier` (a first pass over other backends
    /// that accepted nothing): both passes' attempts, and unavailable if either
    /// pass could not ask a backend, as one pass over all of them would be.
    pub fn after(mut self, earlier: Decision) -> Decision {
        let mut attempts = earlier.attempts;
        attempts.append(&mut self.attempts);
        let outcome = match (self.outcome, earlier.outcome) {
            (accepted @ Outcome::Accepted { .. }, _) => accepted,
            (Outcome::Unavailable, _) | (_, Outcome::Unavailable) => Outcome::Unavailable,
            _ => Outcome::Rejected,
        };
        Decision { outcome, attempts }
    }
}

#[derive(Clone, Default)]
pub struct Chain {
    backends: Vec<Arc<dyn Authenticator>>,
}

impl Chain {
    pub fn new(backends: Vec<Arc<dyn Authenticator>>) -> Self {
        Chain { backends }
    }

    pub fn backends(&self) -> &[Arc<dyn Authenticator>] {
        &self.backends
    }

    /// Tries each backend in order. The first accept wins; a reject moves on; an
    /// unavailable backend moves on too but is remembered, so that "every backend
    /// rejected" and "none accepted, one could not be asked" stay different answers.
    pub async fn authenticate(&self, credentials: &Credentials) -> Decision {
        self.authenticate_with(credentials, &|_| true).await
    }

    /// As [`Chain::authenticate`], asking only the backends of the kinds `ask` allows
    /// (an account known to belong to one backend is never sent to another).
    pub async fn authenticate_with(
        &self,
        credentials: &Credentials,
        ask: &(dyn Fn(BackendKind) -> bool + Sync),
    ) -> Decision {
        let mut attempts = Vec::with_capacity(self.backends.len());
        let mut any_unavailable = false;
        for backend in self.backends.iter().filter(|b| ask(b.kind())) {
            let started = Instant::now();
            let verdict = backend.authenticate(credentials).await;
            let elapsed = started.elapsed();
            tracing::debug!(
                backend = backend.name(),
                login = credentials.login(),
                verdict = verdict.label(),
                latency_ms = elapsed.as_millis() as u64,
                "backend answered"
            );
            let accepted = match &verdict {
                Verdict::Accepted(a) => Some(Outcome::Accepted {
                    backend: backend.name().to_owned(),
                    kind: backend.kind(),
                    uid: a.uid.clone(),
                    groups: a.groups.clone(),
                }),
                Verdict::Unavailable { .. } => {
                    any_unavailable = true;
                    None
                }
                Verdict::Rejected(_) => None,
            };
            attempts.push(Attempt {
                backend: backend.name().to_owned(),
                kind: backend.kind(),
                verdict,
                elapsed,
            });
            if let Some(outcome) = accepted {
                return Decision { outcome, attempts };
            }
        }
        let outcome = if any_unavailable {
            Outcome::Unavailable
        } else {
            Outcome::Rejected
        };
        Decision { outcome, attempts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Accepted, RejectReason, SecretString, UnavailableKind};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scripted backend: these tests are about the chain's ordering rules, which
    /// need no server.
    struct Scripted {
        name: String,
        verdict: Verdict,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Authenticator for Scripted {
        fn name(&self) -> &str {
            &self.name
        }
        fn kind(&self) -> BackendKind {
            BackendKind::Imap
        }
        async fn authenticate(&self, _: &Credentials) -> Verdict {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.verdict.clone()
        }
    }

    fn scripted(name: &str, verdict: Verdict) -> Arc<Scripted> {
        Arc::new(Scripted {
            name: name.into(),
            verdict,
            calls: AtomicUsize::new(0),
        })
    }

    fn accept(uid: &str) -> Verdict {
        Verdict::Accepted(Accepted {
            uid: uid.into(),
            groups: vec![],
        })
    }
    fn reject() -> Verdict {
        Verdict::Rejected(RejectReason::BadCredentials)
    }
    fn down() -> Verdict {
        Verdict::unavailable(UnavailableKind::Connect, "refused")
    }

    fn creds() -> Credentials {
        Credentials::new("alice", SecretString::from("pw".to_owned())).unwrap()
    }

    fn chain_of(backends: &[&Arc<Scripted>]) -> Chain {
        Chain::new(
            backends
                .iter()
                .map(|b| Arc::clone(b) as Arc<dyn Authenticator>)
                .collect(),
        )
    }

    #[tokio::test]
    async fn two_passes_decide_as_one_pass_over_both_would() {
        let (down, no, yes) = (
            scripted("a", down()),
            scripted("b", reject()),
            scripted("c", accept("alice")),
        );
        for (first, second) in [(&down, &no), (&no, &down)] {
            let earlier = chain_of(&[first]).authenticate(&creds()).await;
            let d = chain_of(&[second])
                .authenticate(&creds())
                .await
                .after(earlier);
            assert_eq!(d.outcome, Outcome::Unavailable);
            let names: Vec<_> = d.attempts.iter().map(|a| a.backend.as_str()).collect();
            assert_eq!(names, [first.name.as_str(), second.name.as_str()]);
        }
        let earlier = chain_of(&[&no]).authenticate(&creds()).await;
        let d = chain_of(&[&no]).authenticate(&creds()).await.after(earlier);
        assert_eq!(d.outcome, Outcome::Rejected);
        let earlier = chain_of(&[&down]).authenticate(&creds()).await;
        let d = chain_of(&[&yes])
            .authenticate(&creds())
            .await
            .after(earlier);
        assert!(matches!(d.outcome, Outcome::Accepted { .. }), "{d:?}");
        assert_eq!(d.attempts.len(), 2);
    }

    #[tokio::test]
    async fn first_accept_wins_and_later_backends_are_not_asked() {
        let a = scripted("a", reject());
        let b = scripted("b", accept("alice"));
        let c = scripted("c", accept("other"));
        let d = chain_of(&[&a, &b, &c]).authenticate(&creds()).await;
        assert_eq!(
            d.outcome,
            Outcome::Accepted {
                backend: "b".into(),
                kind: BackendKind::Imap,
                uid: "alice".into(),
                groups: vec![]
            }
        );
        assert_eq!(d.attempts.len(), 2);
        assert_eq!(c.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn all_rejected_is_rejected() {
        let a = scripted("a", reject());
        let b = scripted("b", reject());
        let d = chain_of(&[&a, &b]).authenticate(&creds()).await;
        assert_eq!(d.outcome, Outcome::Rejected);
        assert_eq!(d.attempts.len(), 2);
    }

    #[tokio::test]
    async fn an_unavailable_backend_is_remembered_past_later_rejects() {
        let a = scripted("a", down());
        let b = scripted("b", reject());
        let d = chain_of(&[&a, &b]).authenticate(&creds()).await;
        assert_eq!(d.outcome, Outcome::Unavailable);
        assert_eq!(b.calls.load(Ordering::SeqCst), 1, "unavailable moves on");
    }

    #[tokio::test]
    async fn an_accept_after_an_unavailable_backend_still_wins() {
        let a = scripted("a", down());
        let b = scripted("b", accept("alice"));
        let d = chain_of(&[&a, &b]).authenticate(&creds()).await;
        assert!(matches!(d.outcome, Outcome::Accepted { .. }));
    }

    #[tokio::test]
    async fn an_empty_chain_rejects() {
        let d = Chain::default().authenticate(&creds()).await;
        assert_eq!(d.outcome, Outcome::Rejected);
    }
}
