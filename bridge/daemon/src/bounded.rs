//! Bounded concurrency per backend: at most `max_concurrent` checks run against one
//! server at once and at most `queue` wait; beyond that the answer is
//! "unavailable" at once, so a slow mail server cannot pile up the whole daemon.

use async_trait::async_trait;
use authbridge_core::{Authenticator, BackendKind, Credentials, UnavailableKind, Verdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

pub struct Bounded {
    inner: Arc<dyn Authenticator>,
    running: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    /// The backend's load as the metrics show it (shared by name across reloads).
    load: Arc<crate::metrics::BackendLoad>,
}

impl Bounded {
    pub fn new(inner: Arc<dyn Authenticator>, max_concurrent: usize, queue: usize) -> Self {
        let load = crate::metrics::global().backend(inner.name());
        Bounded {
            inner,
            running: Semaphore::new(max_concurrent.max(1)),
            waiting: AtomicUsize::new(0),
            queue,
            load,
        }
    }
}

/// Decrements the waiting counts however the wait ends (granted or cancelled).
struct Waiting<'a>(&'a AtomicUsize, &'a crate::metrics::BackendLoad);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        self.1.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One running check in the metrics, however it ends.
struct Running<'a>(&'a crate::metrics::BackendLoad);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Authenticator for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn serves(&self, login: &str) -> bool {
        self.inner.serves(login)
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let permit = match self.running.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    self.load.refused.fetch_add(1, Ordering::Relaxed);
                    return Verdict::unavailable(
                        UnavailableKind::Overloaded,
                        format!(
                            "{}: {} checks queued already; try again later",
                            self.inner.name(),
                            self.queue
                        ),
                    );
                }
                self.load.waiting.fetch_add(1, Ordering::Relaxed);
                self.load.waited.fetch_add(1, Ordering::Relaxed);
                let _waiting = Waiting(&self.waiting, &self.load);
                match self.running.acquire().await {
                    Ok(permit) => permit,
                    Err(_) => {
                        return Verdict::unavailable(UnavailableKind::Overloaded, "shutting down");
                    }
                }
            }
        };
        self.load.running.fetch_add(1, Ordering::Relaxed);
        let running = Running(&self.load);
        let verdict = self.inner.authenticate(credentials).await;
        drop(running);
        drop(permit);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_core::RejectReason;
    use tokio::sync::Notify;

    /// Holds every check until released, counting how many are inside at once.
    struct Gatekeeper {
        release: Notify,
        inside: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl Authenticator for Gatekeeper {
        fn name(&self) -> &str {
            "held"
        }
        fn kind(&self) -> BackendKind {
            BackendKind::Imap
        }
        async fn authenticate(&self, _: &Credentials) -> Verdict {
            let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.release.notified().await;
            self.inside.fetch_sub(1, Ordering::SeqCst);
            Verdict::Rejected(RejectReason::BadCredentials)
        }
    }

    #[tokio::test]
    async fn beyond_the_queue_the_answer_is_unavailable_at_once() {
        let held = Arc::new(Gatekeeper {
            release: Notify::new(),
            inside: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let bounded = Arc::new(Bounded::new(held.clone(), 2, 3));
        let creds = || Credentials::new("u", "p".to_string().into()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let b = bounded.clone();
            tasks.push(tokio::spawn(async move { b.authenticate(&creds()).await }));
        }
        // Two inside, three queued: wait until that is so.
        while held.inside.load(Ordering::SeqCst) < 2 || bounded.waiting.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        // The metrics see the same: two running, three waiting.
        let load = crate::metrics::global().backend("held");
        assert_eq!(load.running.load(Ordering::SeqCst), 2);
        assert_eq!(load.waiting.load(Ordering::SeqCst), 3);
        let sixth = bounded.authenticate(&creds()).await;
        assert!(matches!(sixth, Verdict::Unavailable { .. }), "{sixth:?}");
        assert_eq!(load.refused.load(Ordering::SeqCst), 1);
        while tasks.iter().any(|t| !t.is_finished()) {
            held.release.notify_waiters();
            tokio::task::yield_now().await;
        }
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Verdict::Rejected(_)));
        }
        assert_eq!(held.most.load(Ordering::SeqCst), 2);
        assert_eq!(bounded.waiting.load(Ordering::SeqCst), 0);
        // Every check ended: nothing running or waiting, three waited.
        assert_eq!(load.running.load(Ordering::SeqCst), 0);
        assert_eq!(load.waiting.load(Ordering::SeqCst), 0);
        assert_eq!(load.waited.load(Ordering::SeqCst), 3);
    }
}
