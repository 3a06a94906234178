//! argon2id hashes of local passwords, as PHC strings.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use std::sync::Arc;

/// argon2id, 32 MiB, 2 passes, 1 lane: about 50 ms per hash on this project's
/// 2-core machine (`cargo bench -p authbridge --bench accounts`), and above
/// OWASP's minimum (19 MiB, 2 passes). Stored in each PHC string, so raising it
/// later only affects new hashes.
pub const HASH_PARAMS: (u32, u32, u32) = (32 * 1024, 2, 1);

fn hasher() -> Argon2<'static> {
    let (m, t, p) = HASH_PARAMS;
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).expect("valid argon2 parameters"),
    )
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string()
}

/// Constant-time comparison happens inside argon2's verifier. A malformed stored
/// hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// How many argon2id hashes run at once, process-wide. Each takes
/// [`HASH_PARAMS`]' 32 MiB while it runs, so these places are what bounds the
/// memory a flood of logins can take (sixty-four wrong passwords at once used to
/// take 2 GB). Waiting for a place is brief; past it the caller answers
/// "unavailable", never grows.
pub struct HashBudget {
    places: Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
}

/// The hashing could not start in time: every place stayed taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once; try again shortly")]
pub struct Busy;

static BUDGET: std::sync::OnceLock<HashBudget> = std::sync::OnceLock::new();

impl HashBudget {
    /// Two places per core, at most as many as a quarter of the memory available
    /// now can hold, and at least two.
    pub fn default_places() -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let per_hash = HASH_PARAMS.0 as u64 * 1024;
        let by_memory = mem_available().map_or(usize::MAX, |m| (m / 4 / per_hash) as usize);
        (cores * 2).min(by_memory).max(2)
    }

    /// The process-wide budget, made on first use.
    pub fn get() -> &'static HashBudget {
        BUDGET.get_or_init(|| HashBudget {
            places: Arc::new(tokio::sync::Semaphore::new(Self::default_places())),
            wait: std::time::Duration::from_secs(2),
        })
    }

    /// Runs `work` on a blocking thread once a place is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let place = tokio::time::timeout(self.wait, Arc::clone(&self.places).acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        // The place goes with the work: a caller that gives up (a client hanging
        // up mid-request) does not free it while the hash still runs.
        tokio::task::spawn_blocking(move || {
            let _place = place;
            work()
        })
        .await
        .map_err(|_| Busy)
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// [`hash_password`] within the process-wide [`HashBudget`].
pub async fn hash_password_bounded(
    password: authbridge_core::SecretString,
) -> Result<String, Busy> {
    use authbridge_core::ExposeSecret;
    HashBudget::get()
        .run(move || hash_password(password.expose_secret()))
        .await
}

/// [`verify_password`] within the process-wide [`HashBudget`]. `None` for `phc`
/// verifies against a fixed hash and answers false: an unknown user costs as much
/// time as a known one, so timing does not tell who exists.
pub async fn verify_password_bounded(
    password: authbridge_core::SecretString,
    phc: Option<String>,
) -> Result<bool, Busy> {
    use authbridge_core::ExposeSecret;
    HashBudget::get()
        .run(move || match phc {
            Some(phc) => verify_password(password.expose_secret(), &phc),
            None => {
                let _ = verify_password(password.expose_secret(), dummy_hash());
                false
            }
        })
        .await
}

/// A hash of a random password nobody knows, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut secret);
        let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_salting() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert!(a.starts_with("$argon2id$v=19$m=32768,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsf", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    /// Starts work that holds a place until the returned sender is used; returns
    /// once the work runs.
    async fn hold_the_place(
        budget: &std::sync::Arc<HashBudget>,
    ) -> (
        tokio::task::JoinHandle<Result<(), Busy>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let budget = std::sync::Arc::clone(budget);
        let holder = tokio::spawn(async move {
            budget
                .run(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                })
                .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        (holder, release_tx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_budget_bounds_hashes_at_once_and_refuses_past_its_wait() {
        let budget = HashBudget {
            places: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            wait: std::time::Duration::from_millis(50),
        };
        let budget = std::sync::Arc::new(budget);
        let (holder, release_tx) = hold_the_place(&budget).await;
        // The one place is taken: the next check waits 50 ms, then is refused.
        assert_eq!(budget.run(|| 1).await, Err(Busy));
        release_tx.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Ok(()));
        assert_eq!(budget.run(|| 2).await, Ok(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_does_not_free_the_place_of_a_running_hash() {
        let budget = std::sync::Arc::new(HashBudget {
            places: Arc::new(tokio::sync::Semaphore::new(1)),
            wait: std::time::Duration::from_millis(50),
        });
        let (caller, release_tx) = hold_the_place(&budget).await;
        caller.abort();
        let _ = caller.await;
        // The work still runs: its place is still taken.
        assert_eq!(budget.run(|| 1).await, Err(Busy));
        release_tx.send(()).unwrap();
        // Freed once the work ends (each try waits up to 50 ms for it).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while budget.run(|| 2).await != Ok(2) {
            assert!(
                std::time::Instant::now() < deadline,
                "the place never came back"
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_user_is_verified_against_a_dummy_hash() {
        let secret = || authbridge_core::SecretString::from("correct horse".to_owned());
        let phc = hash_password("correct horse");
        assert_eq!(verify_password_bounded(secret(), Some(phc)).await, Ok(true));
        let started = std::time::Instant::now();
        assert_eq!(verify_password_bounded(secret(), None).await, Ok(false));
        // A real argon2id verification ran (tens of ms), not an early return.
        assert!(started.elapsed() >= std::time::Duration::from_millis(5));
    }
}
