//! A backend whose answers the test writes, for what is decided around the
//! backends (the chain's order, the gate, the daemon's policy): no server needed.

use async_trait::async_trait;
use authbridge_core::{Accepted, Authenticator, BackendKind, Credentials, Verdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

type Answer = Box<dyn Fn(&Credentials) -> Verdict + Send + Sync>;

pub struct Scripted {
    kind: BackendKind,
    answer: Answer,
    asked: AtomicUsize,
}

impl Scripted {
    /// Answers each check with `answer(credentials)`.
    pub fn new(
        kind: BackendKind,
        answer: impl Fn(&Credentials) -> Verdict + Send + Sync + 'static,
    ) -> Arc<Scripted> {
        Arc::new(Scripted {
            kind,
            answer: Box::new(answer),
            asked: AtomicUsize::new(0),
        })
    }

    /// Answers every check with `verdict`.
    pub fn always(kind: BackendKind, verdict: Verdict) -> Arc<Scripted> {
        Scripted::new(kind, move |_| verdict.clone())
    }

    /// Accepts any password as the login (lower-cased, the domain cut off as
    /// IMAP's `strip_domain` does), in these groups.
    pub fn accepting(kind: BackendKind, groups: &[&str]) -> Arc<Scripted> {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        Scripted::new(kind, move |c| {
            let name = c.login().split('@').next().unwrap_or_default();
            Verdict::Accepted(Accepted {
                uid: name.to_lowercase(),
                groups: groups.clone(),
            })
        })
    }

    /// How many checks it answered.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Authenticator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn kind(&self) -> BackendKind {
        self.kind
    }
    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        self.asked.fetch_add(1, Ordering::SeqCst);
        (self.answer)(credentials)
    }
}
