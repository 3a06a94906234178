//! One request in, one answer out: the policy in front of the backend chain.
//!
//! Order for a password check: the throttle (an attempt inside its delay reaches no
//! backend), the credential cache (in memory), the gate (disabled accounts, then
//! the chain), and when every backend was unavailable, the offline verifier.

use authbridge_core::{
    BackendKind, Credentials, Decision, ExposeSecret, Outcome, RejectReason, SecretString, Verdict,
    canonical_uid,
};
use authbridge_local::{Gate, Names, PasswordPolicy};
use authbridge_proto::{
    AccountStatus, AuthAnswer, AuthRequest, AuthStatus, PasswordChange, PasswordOwner, PeerCred,
    Request, Response, Secret,
};
use authbridge_store::{LOCAL_BACKEND, SharedStore, StoreError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

use crate::clock::now_ms;
use crate::credential_cache::{CredentialCache, Remembered, state_digest};
use crate::decision_line::{DecisionLine, Detail, describe};
use crate::directory::Directory;
use crate::last_login::LastLogins;
use crate::log_budget::{self, LogBudget};
use crate::settings::{DaemonSettings, NssSettings, ThrottleSettings};
use crate::throttle::{Admission, Throttle};
use crate::verifiers::{Offline, Verifiers};

mod second_factor;
pub(crate) use second_factor::{Next, app_password_message, enrol_message};

/// Everything a reload replaces: the backends and the tunables.
pub struct Engine {
    pub gate: Gate,
    /// The system's names and the deny lists (also inside `gate`).
    pub names: Arc<Names>,
    /// `revoke_app_passwords_on_reset`: every path that resets a password
    /// deletes the user's app passwords too.
    pub revoke_app_passwords_on_reset: bool,
    pub daemon: DaemonSettings,
    pub throttle: ThrottleSettings,
    pub nss: NssSettings,
    pub policy: PasswordPolicy,
    /// The SMTP relay for welcome mails; None: no mail can be sent.
    pub mail: Option<crate::MailSettings>,
    /// Second factors: who needs one, checking codes, enrolling.
    pub twofactor: Arc<authbridge_twofactor::TwoFactor>,
    /// Where users enrol, for the words of a refusal.
    pub twofactor_setup_url: String,
}

/// Reads the config again and builds a new engine (SIGHUP).
pub type Loader = Box<dyn Fn() -> Result<Engine, LoadError> + Send + Sync>;

/// The configuration could not be made into an engine. The loader is the
/// caller's (it reads the config file), so is the error inside.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct LoadError(Box<dyn std::error::Error + Send + Sync>);

impl LoadError {
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> LoadError {
        LoadError(source.into())
    }
}

/// The daemon cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot read the throttle state: {0}")]
    Throttle(#[source] authbridge_store::StoreError),
    #[error("cannot read the module switches: {0}")]
    Switches(#[source] authbridge_store::StoreError),
}

pub struct Service {
    engine: RwLock<Arc<Engine>>,
    loader: Loader,
    store: SharedStore,
    throttle: Throttle,
    verifiers: Verifiers,
    /// Passwords accepted lately (`cached_auth_timeout`, `http_credential_cache`).
    credentials: CredentialCache,
    /// The daemon's own euid: peers running as it are trusted like root.
    own_uid: u32,
    /// Which optional modules are on (the OCS apps API switches them).
    switches: crate::modules::Switches,
    /// Refused attempts are logged at most this often (a flood must not flood
    /// the journal).
    refusals_logged: LogBudget,
    /// Whose last login was recorded within the minute.
    last_logins: LastLogins,
    /// Right passwords waiting for their second factor.
    challenges: second_factor::Challenges,
}

/// Accounts whose last login is remembered as recorded; more start the map over.
const LAST_LOGINS_REMEMBERED: usize = 65_536;

/// Refused decisions (throttled, malformed) logged per second at most.
const REFUSALS_LOGGED_PER_SECOND: u32 = 20;

/// What one password check came to, for the answer and the log.
struct Conclusion {
    status: AuthStatus,
    uid: Option<String>,
    backend: String,
    detail: Detail,
    /// The kind of backend that accepted, when one did.
    kind: Option<BackendKind>,
    /// Throttled: how long the delay has left, when one holds the attempt back.
    retry_after: Option<Duration>,
}

/// A password check's answer, with the kind of credential that passed.
pub struct Checked {
    pub answer: AuthAnswer,
    /// `AppPassword` when a device credential passed: it may not take over the
    /// account (change its login password).
    pub kind: Option<BackendKind>,
    /// Written when dropped (None when the rate limit holds it back).
    pub line: Option<DecisionLine>,
    /// Throttled by a delay: how long it has left (None when throttled for too
    /// many attempts at once, and for every other answer).
    pub retry_after: Option<Duration>,
}

/// A socket request's answer, and the decision line to write once it is sent.
pub struct Answered {
    pub response: Response,
    pub line: Option<DecisionLine>,
}

impl Answered {
    pub(crate) fn now(response: Response) -> Answered {
        Answered {
            response,
            line: None,
        }
    }
}

impl Conclusion {
    fn new(
        status: AuthStatus,
        uid: Option<String>,
        backend: &str,
        detail: impl Into<Detail>,
    ) -> Self {
        Conclusion {
            status,
            uid,
            backend: backend.to_owned(),
            detail: detail.into(),
            kind: None,
            retry_after: None,
        }
    }

    fn by(mut self, kind: BackendKind) -> Self {
        self.kind = Some(kind);
        self
    }
}

impl Service {
    pub fn new(loader: Loader, store: SharedStore) -> Result<Service, ServiceError> {
        let engine = loader()?;
        let throttle = Throttle::load(Arc::clone(&store), &engine.throttle, now_ms())
            .map_err(ServiceError::Throttle)?;
        // SAFETY: geteuid cannot fail and touches no memory.
        let own_uid = unsafe { libc::geteuid() };
        let switches = crate::modules::Switches::load(&*store).map_err(ServiceError::Switches)?;
        let credentials = CredentialCache::new(engine.daemon.credential_cache_entries);
        Ok(Service {
            switches,
            credentials,
            engine: RwLock::new(Arc::new(engine)),
            loader,
            verifiers: Verifiers::new(Arc::clone(&store)),
            store,
            throttle,
            own_uid,
            refusals_logged: LogBudget::new(REFUSALS_LOGGED_PER_SECOND),
            last_logins: LastLogins::new(LAST_LOGINS_REMEMBERED, 60),
            challenges: second_factor::Challenges::default(),
        })
    }

    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Builds a new engine from the config; requests in flight finish on the old one.
    /// The credential cache is dropped: backends and their rules may have changed.
    pub fn reload(&self) -> Result<(), LoadError> {
        let engine = (self.loader)()?;
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(engine);
        self.credentials.clear();
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        self.engine().daemon.request_timeout
    }

    /// Root and the daemon's own uid: the peers PAM runs as, trusted with any user.
    pub fn is_privileged(&self, uid: u32) -> bool {
        uid == 0 || uid == self.own_uid
    }

    /// Root and the daemon's own uid may act for anyone; another peer only for the
    /// user it runs as (a screen locker checking its own user's password).
    fn may_act_for(&self, peer: &PeerCred, user: &str) -> bool {
        if self.is_privileged(peer.uid) {
            return true;
        }
        let engine = self.engine();
        let dir = Directory::new(&*self.store, &engine.nss, &engine.names);
        dir.name_of(peer.uid)
            .is_some_and(|name| name.eq_ignore_ascii_case(user))
    }

    pub async fn handle(&self, request: Request, peer: &PeerCred) -> Answered {
        let engine = self.engine();
        let dir = Directory::new(&*self.store, &engine.nss, &engine.names);
        let response = match request {
            Request::Authenticate(auth) => return self.authenticate(auth, None, peer).await,
            Request::AuthenticateStartedBy { request, real_uid } => {
                return self.authenticate(request, Some(real_uid), peer).await;
            }
            Request::AuthenticateTwoStep {
                request,
                real_uid,
                mode,
            } => {
                return self
                    .authenticate_two_step(request, real_uid, mode, peer)
                    .await;
            }
            Request::SecondFactor { ticket, code } => {
                return self.second_factor(ticket, code.into_inner(), peer).await;
            }
            Request::Account { user } => {
                if !self.may_act_for(peer, &user) {
                    return Answered::now(refused(peer, "query another user's account"));
                }
                match self.account(&user) {
                    Ok(status) => Response::Account(status),
                    // Not "disabled": nothing is known of the account (the
                    // module answers PAM_AUTHINFO_UNAVAIL).
                    Err(_) => Response::Error("the store cannot be read".into()),
                }
            }
            Request::OpenSession {
                user,
                service,
                rhost,
            } => {
                if !self.may_act_for(peer, &user) {
                    return Answered::now(refused(peer, "open a session for another user"));
                }
                self.open_session(&user, &service, rhost.as_deref())
            }
            Request::ChangePassword {
                user,
                old_password,
                new_password,
            } => {
                if !self.is_privileged(peer.uid) {
                    return Answered::now(refused(peer, "change passwords"));
                }
                Response::PasswordChange(
                    self.change_password(
                        &user,
                        old_password.map(Secret::into_inner),
                        new_password.into_inner(),
                        &engine.policy,
                    )
                    .await,
                )
            }
            Request::PasswordOwner { user } => Response::PasswordOwner(self.password_owner(&user)),
            // A store that cannot answer is an error, never "not found" or a
            // short list (the module answers UNAVAIL: a missing supplementary
            // group could let a login past a deny rule).
            Request::PasswdByName(name) => lookup(dir.passwd_by_name(&name), Response::Passwd),
            Request::PasswdById(id) => lookup(dir.passwd_by_id(id), Response::Passwd),
            Request::PasswdAll => lookup(dir.passwd_all(), Response::Passwd),
            Request::GroupByName(name) => lookup(dir.group_by_name(&name), Response::Group),
            Request::GroupById(id) => lookup(dir.group_by_id(id), Response::Group),
            Request::GroupAll => lookup(dir.group_all(), Response::Group),
            Request::GroupIdsOf(name) => lookup(dir.group_ids_of(&name), Response::GroupIds),
        };
        Answered::now(response)
    }

    /// The throttle's source for a request from the socket; see `local_source`.
    fn source(
        &self,
        rhost: Option<&str>,
        claimed_real_uid: Option<u32>,
        peer: &PeerCred,
    ) -> String {
        local_source(
            rhost,
            claimed_real_uid,
            peer,
            |uid| self.is_privileged(uid),
            || real_uid(peer.pid),
        )
    }

    async fn authenticate(
        &self,
        request: AuthRequest,
        claimed_real_uid: Option<u32>,
        peer: &PeerCred,
    ) -> Answered {
        match self
            .check_socket_password(&request, claimed_real_uid, peer)
            .await
        {
            Ok((checked, _source)) => self.gate_old_module(checked),
            Err(refusal) => refusal,
        }
    }

    /// A password from the socket: only for a peer that may act for the user,
    /// counted against the source `local_source` names (returned with it).
    async fn check_socket_password(
        &self,
        request: &AuthRequest,
        claimed_real_uid: Option<u32>,
        peer: &PeerCred,
    ) -> Result<(Checked, String), Answered> {
        if !self.may_act_for(peer, &request.user) {
            return Err(Answered::now(refused(peer, "authenticate another user")));
        }
        let source = self.source(request.rhost.as_deref(), claimed_real_uid, peer);
        let password = SecretString::from(request.password.as_str().to_owned());
        let checked = self
            .check_password(
                &request.user,
                password,
                &request.service,
                &source,
                Some(peer),
            )
            .await;
        Ok((checked, source))
    }

    /// A password check from any front end (the socket with its `peer`, HTTP with
    /// none): throttle, cache, gate, offline verifier, and one decision log line.
    /// The password only: the caller decides on a second factor, and notes the
    /// login once it is complete ([`Service::note_login`]).
    /// `source` is what the throttle counts failures against (remote host, client
    /// address, local peer).
    pub async fn check_password(
        &self,
        user: &str,
        password: SecretString,
        service: &str,
        source: &str,
        peer: Option<&PeerCred>,
    ) -> Checked {
        let started = Instant::now();
        let engine = self.engine();
        let login = canonical_uid(user);
        let front = if peer.is_some() {
            Front::Socket
        } else {
            Front::Http
        };
        let result = self
            .decide(&engine, user, &login, source, password, front)
            .await;
        let answer = AuthAnswer {
            status: result.status,
            uid: result.uid.clone(),
        };
        let kind = result.kind;
        let retry_after = result.retry_after;
        crate::metrics::global().decided(&result.backend, result.status, started.elapsed());
        Checked {
            answer,
            kind,
            retry_after,
            line: self.decision_line(login, result, started, service, source, peer),
        }
    }

    /// The decision's line, or None when it is a cheap refusal over the rate
    /// limit (a flood must not flood the journal).
    fn decision_line(
        &self,
        login: String,
        result: Conclusion,
        started: Instant,
        service: &str,
        source: &str,
        peer: Option<&PeerCred>,
    ) -> Option<DecisionLine> {
        let cheap_refusal = matches!(result.backend.as_str(), "throttle" | "input");
        if cheap_refusal {
            match self.refusals_logged.take(now_ms()) {
                log_budget::Verdict::Suppress => return None,
                log_budget::Verdict::Write { suppressed_before } if suppressed_before > 0 => {
                    tracing::warn!(
                        suppressed = suppressed_before,
                        "refused attempts not logged in the last second (rate limit)"
                    );
                }
                log_budget::Verdict::Write { .. } => {}
            }
        }
        Some(DecisionLine {
            login,
            uid: result.uid,
            backend: result.backend,
            verdict: result.status,
            detail: result.detail,
            second_factor: "-",
            latency_ms: started.elapsed().as_millis() as u64,
            service: service.to_owned(),
            source: source.to_owned(),
            peer: peer.copied(),
        })
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn switches(&self) -> &crate::modules::Switches {
        &self.switches
    }

    /// Takes in other hosts' changes to what this daemon keeps in memory (see
    /// [`crate::follow`]).
    pub fn follow_store(&self) -> authbridge_store::Result<()> {
        self.switches.reload(&*self.store)?;
        let engine = self.engine();
        // Pruned here too: a host with no failures of its own still takes in
        // other hosts'.
        self.throttle.prune_now_and_then(&engine.throttle, now_ms());
        self.throttle.follow_store(&engine.throttle, now_ms())
    }

    async fn decide(
        &self,
        engine: &Engine,
        user: &str,
        login: &str,
        source: &str,
        password: SecretString,
        front: Front,
    ) -> Conclusion {
        // Malformed input (too long, control characters) is refused before it is
        // counted, stored or sent anywhere.
        let credentials = match Credentials::new(user, password.clone()) {
            Ok(c) => c,
            Err(e) => return Conclusion::new(AuthStatus::Rejected, None, "input", e.to_string()),
        };
        let _in_flight = match self
            .throttle
            .admit(login, source, &engine.throttle, now_ms)
            .await
        {
            Admission::Go(pass) => pass,
            Admission::WaitThenGo(wait, pass) => {
                tokio::time::sleep(wait).await;
                pass
            }
            Admission::Refuse(left) if left.is_zero() => {
                return Conclusion::new(
                    AuthStatus::Throttled,
                    None,
                    "throttle",
                    "too many attempts of this login or source at once",
                );
            }
            Admission::Refuse(left) => {
                let mut refused = Conclusion::new(
                    AuthStatus::Throttled,
                    None,
                    "throttle",
                    format!("{} ms left of the delay", left.as_millis()),
                );
                refused.retry_after = Some(left);
                return refused;
            }
        };
        let now = now_ms() / 1000;
        if let Some(hit) = self.cached(engine, login, &password, front) {
            self.throttle.succeeded(login, source);
            let detail = format!("accepted by {} lately", hit.backend);
            return Conclusion::new(AuthStatus::Accepted, Some(hit.uid), "cache", detail)
                .by(hit.kind);
        }
        // Read before the check: a reset landing during it can only make the
        // remembered state stale (a miss), never pair the old password with the
        // new state. Not read when nothing accepted here could be remembered.
        let state_before = self
            .may_remember(engine, front)
            .then(|| self.store.credential_state(login).ok())
            .flatten();
        let allowed = |kind| self.switches.kind_enabled(kind);
        let decision = engine.gate.authenticate_where(&credentials, &allowed).await;
        // In words only where they are needed now; an acceptance keeps the
        // attempts for its line.
        let detail = || describe(&decision.attempts);
        match decision.outcome {
            Outcome::Accepted {
                backend, kind, uid, ..
            } => {
                self.throttle.succeeded(login, source);
                let external = !matches!(kind, BackendKind::Database | BackendKind::AppPassword);
                if external && Verifiers::enabled(&engine.daemon) {
                    // In the background: an argon2id hash must not delay the answer.
                    let (verifiers, login, uid, password) = (
                        self.verifiers.clone(),
                        login.to_owned(),
                        uid.clone(),
                        password.clone(),
                    );
                    tokio::spawn(async move {
                        verifiers.remember(&login, &uid, &password, now).await;
                    });
                }
                let ttl = cache_lifetime(&engine.daemon, kind, front);
                let state = match state_before {
                    _ if ttl.is_zero() => None,
                    Some(state) if uid.eq_ignore_ascii_case(login) => Some(state),
                    // A backend that mapped the login (external: no reset to race).
                    _ if kind != BackendKind::Database => self.store.credential_state(&uid).ok(),
                    _ => None,
                };
                if let Some(state) = state {
                    let remembered = Remembered {
                        uid: uid.clone(),
                        backend: backend.clone(),
                        kind,
                        state: state_digest(&state),
                    };
                    let plain = password.expose_secret();
                    self.credentials
                        .insert(login, plain, remembered, ttl, Instant::now());
                }
                let attempts = Detail::Attempts(decision.attempts);
                Conclusion::new(AuthStatus::Accepted, Some(uid), &backend, attempts).by(kind)
            }
            Outcome::Rejected => {
                self.throttle
                    .failed(login, source, &engine.throttle, now_ms());
                let status = self.rejection(login, &decision);
                Conclusion::new(status, None, "-", detail())
            }
            // The store could not answer, or a backend that checked the
            // password said no while another could not be asked: the offline
            // verifiers are no way in (one may hold a password a server has
            // just refused).
            Outcome::Unavailable
                if authbridge_local::store_failed(&decision)
                    || authbridge_local::a_backend_said_no(&decision) =>
            {
                Conclusion::new(AuthStatus::Unavailable, None, "-", detail())
            }
            Outcome::Unavailable => {
                let detail = detail();
                match self
                    .verifiers
                    .offline(login, &password, &engine.daemon, now)
                    .await
                {
                    Offline::Accepted { uid } => match self.enabled(&uid) {
                        Ok(true) if engine.names.check_user(&uid).is_ok() => Conclusion::new(
                            AuthStatus::Accepted,
                            Some(uid),
                            "offline",
                            format!("backends unavailable, verifier matched ({detail})"),
                        ),
                        Ok(_) => Conclusion::new(
                            AuthStatus::Disabled,
                            None,
                            "offline",
                            "account disabled",
                        ),
                        Err(_) => Conclusion::new(
                            AuthStatus::Unavailable,
                            None,
                            "offline",
                            "verifier matched, but the store cannot say whether the account is enabled",
                        ),
                    },
                    Offline::Mismatch => {
                        self.throttle
                            .failed(login, source, &engine.throttle, now_ms());
                        Conclusion::new(
                            AuthStatus::Rejected,
                            None,
                            "offline",
                            format!("backends unavailable, verifier did not match ({detail})"),
                        )
                    }
                    Offline::Delayed => Conclusion::new(
                        AuthStatus::Unavailable,
                        None,
                        "offline",
                        "too many wrong offline passwords; waiting out offline_failed_login_delay",
                    ),
                    Offline::NotApplicable => {
                        Conclusion::new(AuthStatus::Unavailable, None, "-", detail)
                    }
                }
            }
        }
    }

    /// Could a password accepted on this front be remembered at all? Not when
    /// both lifetimes are off (then no check costs the state read).
    fn may_remember(&self, engine: &Engine, front: Front) -> bool {
        !engine.daemon.cached_auth_timeout.is_zero()
            || (front == Front::Http && !engine.daemon.http_credential_cache.is_zero())
    }

    /// A remembered password for this login, if the account is as it was when
    /// the password passed, may still log in, and its backend is still switched on.
    fn cached(
        &self,
        engine: &Engine,
        login: &str,
        password: &SecretString,
        front: Front,
    ) -> Option<Remembered> {
        let metrics = crate::metrics::global();
        let Some(hit) = self
            .credentials
            .lookup(login, password.expose_secret(), Instant::now())
        else {
            metrics.cache_lookup(false);
            return None;
        };
        let still_valid = cache_lifetime(&engine.daemon, hit.kind, front) > Duration::ZERO
            && self.switches.kind_enabled(hit.kind)
            && engine.names.check_user(&hit.uid).is_ok()
            && self
                .store
                .credential_state(&hit.uid)
                .is_ok_and(|now| now.enabled && state_digest(&now) == hit.state);
        metrics.cache_lookup(still_valid);
        if !still_valid {
            self.credentials.forget(login);
            return None;
        }
        Some(hit)
    }

    /// Whether the account may log in; an error when the store cannot say.
    fn enabled(&self, uid: &str) -> Result<bool, StoreError> {
        match self.store.user(uid) {
            Ok(u) => Ok(u.enabled),
            Err(StoreError::NoSuchUser(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Disabled, unknown to everyone, or a plain wrong password.
    fn rejection(&self, login: &str, decision: &Decision) -> AuthStatus {
        let said = |reason: &RejectReason| {
            decision
                .attempts
                .iter()
                .any(|a| matches!(&a.verdict, Verdict::Rejected(r) if r == reason))
        };
        if said(&RejectReason::AccountDisabled) {
            return AuthStatus::Disabled;
        }
        // A system account's name is not ours to answer for: pam_unix decides.
        if decision
            .attempts
            .iter()
            .any(|a| matches!(a.verdict, Verdict::Rejected(RejectReason::SystemName(_))))
        {
            return AuthStatus::UnknownUser;
        }
        let known = !matches!(self.store.user(login), Err(StoreError::NoSuchUser(_)));
        // Only local checks and backends that do not serve the login's domain
        // answered: nobody could know this user.
        let nobody_serves = decision.attempts.iter().all(|a| {
            matches!(a.kind, BackendKind::Database | BackendKind::AppPassword)
                || matches!(a.verdict, Verdict::Rejected(RejectReason::WrongDomain(_)))
        });
        if !known && nobody_serves {
            AuthStatus::UnknownUser
        } else {
            AuthStatus::Rejected
        }
    }

    pub fn account(&self, user: &str) -> Result<AccountStatus, StoreError> {
        if let Err(refusal) = self.engine().names.check_user(user) {
            tracing::debug!("account: {refusal}");
            return Ok(AccountStatus::Unknown);
        }
        match self.store.user(&canonical_uid(user)) {
            Ok(u) if u.enabled => Ok(AccountStatus::Active),
            Ok(_) => Ok(AccountStatus::Disabled),
            Err(StoreError::NoSuchUser(_)) => Ok(AccountStatus::Unknown),
            Err(e) => {
                tracing::warn!(?user, "store unreadable, answering unavailable: {e}");
                Err(e)
            }
        }
    }

    fn open_session(&self, user: &str, service: &str, rhost: Option<&str>) -> Response {
        // A system account's session is not ours to record.
        if self.engine().names.check_user(user).is_err() {
            return Response::Done;
        }
        let uid = canonical_uid(user);
        match self.store.touch_last_seen(&uid, now_ms() / 1000) {
            Ok(()) => {
                tracing::info!(?uid, ?service, rhost = ?rhost.unwrap_or("-"), "session opened");
                Response::Done
            }
            // Not one of ours (an /etc/passwd user in the same stack): nothing to record.
            Err(StoreError::NoSuchUser(_)) => Response::Done,
            Err(e) => Response::Error(e.to_string()),
        }
    }

    fn password_owner(&self, user: &str) -> PasswordOwner {
        if self.engine().names.check_user(user).is_err() {
            return PasswordOwner::Unknown;
        }
        let uid = canonical_uid(user);
        match self.store.user(&uid) {
            Ok(u) if u.backend == LOCAL_BACKEND => PasswordOwner::Local,
            Ok(u) => PasswordOwner::External(format!(
                "the password of {uid} belongs to the {} server: change it there (webmail or the server's own tool)",
                u.backend
            )),
            Err(StoreError::NoSuchUser(_)) => PasswordOwner::Unknown,
            Err(e) => PasswordOwner::External(format!("authbridge cannot read the account: {e}")),
        }
    }

    async fn change_password(
        &self,
        user: &str,
        old: Option<Zeroizing<String>>,
        new: Zeroizing<String>,
        policy: &PasswordPolicy,
    ) -> PasswordChange {
        let uid = canonical_uid(user);
        match self.password_owner(&uid) {
            PasswordOwner::Local => {}
            PasswordOwner::External(text) => return PasswordChange::External(text),
            PasswordOwner::Unknown => return PasswordChange::Unknown,
        }
        if let Err(e) = authbridge_core::usable_password(&new) {
            return PasswordChange::Policy(e.to_string());
        }
        let violations = policy.violations(&new);
        if !violations.is_empty() {
            let text: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            return PasswordChange::Policy(text.join("; "));
        }
        if let Some(old) = old {
            let hash = match self.store.password_hash(&uid) {
                Ok(Some(h)) => h,
                Ok(None) | Err(StoreError::NoSuchUser(_)) => return PasswordChange::Denied,
                // Not "wrong password": the old one could not be checked.
                Err(e) => {
                    return PasswordChange::External(format!(
                        "authbridge cannot read the account: {e}"
                    ));
                }
            };
            let old = SecretString::from(old.as_str().to_owned());
            match authbridge_local::verify_password_bounded(old, Some(hash)).await {
                Ok(true) => {}
                Ok(false) => return PasswordChange::Denied,
                Err(busy) => return PasswordChange::External(busy.to_string()),
            }
        }
        let new = SecretString::from(new.as_str().to_owned());
        let hash = match authbridge_local::hash_password_bounded(new).await {
            Ok(h) => h,
            Err(busy) => return PasswordChange::External(busy.to_string()),
        };
        match self.reset_password(&uid, &hash) {
            Ok(()) => PasswordChange::Changed,
            Err(e) => PasswordChange::External(format!("the store refused the change: {e}")),
        }
    }

    /// An accepted login of any kind (local, app password, a backend, the
    /// credential cache) moves the account's last login, at most once a minute.
    pub(crate) fn note_login(&self, uid: &str) {
        let now = now_ms() / 1000;
        if !self.last_logins.due(uid, now) {
            return;
        }
        match self.store.note_login(uid, now, 60) {
            // Accepted by a backend whose first login could not be recorded.
            Ok(()) | Err(StoreError::NoSuchUser(_)) => {}
            Err(e) => tracing::warn!(?uid, "accepted, but the last login was not recorded: {e}"),
        }
    }

    /// Every app password of the user goes (the OCS "wipe" of their devices),
    /// and nothing remembered in memory answers for the account any more.
    pub fn revoke_app_passwords(&self, uid: &str) -> Result<usize, StoreError> {
        let revoked = self.store.delete_app_passwords_before(uid, i64::MAX)?;
        self.credentials.forget_uid(uid);
        Ok(revoked)
    }

    /// Sets a local user's password hash, as every reset path must: with
    /// `revoke_app_passwords_on_reset` the user's app passwords go too.
    pub fn reset_password(&self, uid: &str, hash: &str) -> Result<(), StoreError> {
        self.store.set_password_hash(uid, Some(hash))?;
        // The state check at the next hit would catch it too; this frees the entry.
        self.credentials.forget_uid(uid);
        if self.engine().revoke_app_passwords_on_reset {
            let revoked = self.store.delete_app_passwords_before(uid, i64::MAX)?;
            tracing::info!(?uid, revoked, "password reset: app passwords revoked");
        }
        Ok(())
    }
}

/// Where a password check came in: login passwords of local users are kept in
/// the credential cache for HTTP clients only (a script's every request), never
/// for PAM, where a login is rare and argon2id's cost is the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    Socket,
    Http,
}

/// How long an accepted password of this kind is served from memory.
fn cache_lifetime(settings: &DaemonSettings, kind: BackendKind, front: Front) -> Duration {
    match kind {
        // One HMAC and an indexed read already: nothing to gain, and a revoked
        // app password must fail at once.
        BackendKind::AppPassword => Duration::ZERO,
        BackendKind::Database if front == Front::Http => settings.http_credential_cache,
        BackendKind::Database => Duration::ZERO,
        _ => settings.cached_auth_timeout,
    }
}

/// The throttle's source. Root and the daemon's own uid speak for remote
/// clients (sshd's PAM_RHOST); any other local peer is its own source, whatever
/// rhost or real uid it claims — else it could pick a fresh source for every
/// guess. A privileged peer without a remote host (su, sudo, login) counts as
/// the user who started it — its real uid, as the module says (`getuid()` in a
/// setuid process cannot be chosen by its user) or else as `/proc` says — so
/// that one user's wrong `su victim` attempts do not lock the victim out of
/// their own console and sudo.
fn local_source(
    rhost: Option<&str>,
    claimed_real_uid: Option<u32>,
    peer: &PeerCred,
    is_privileged: impl Fn(u32) -> bool,
    read_real_uid: impl FnOnce() -> Option<u32>,
) -> String {
    if !is_privileged(peer.uid) {
        return format!("local uid {}", peer.uid);
    }
    if let Some(h) = rhost.filter(|h| !h.is_empty()) {
        // An address counts as HTTP counts it: an IPv6 client by its /64, so
        // one network cannot pick a fresh source per guess.
        return match h.parse::<std::net::IpAddr>() {
            Ok(address) => crate::ocs::throttle_source(address),
            Err(_) => h.to_owned(),
        };
    }
    match claimed_real_uid.or_else(read_real_uid) {
        Some(real) if !is_privileged(real) => format!("local uid {real}"),
        _ => format!("local uid {}", peer.uid),
    }
}

/// The real uid of a process (the user who ran a setuid program such as su), from
/// `/proc/PID/status`: one read into a stack buffer (the Uid line comes early),
/// as this runs for every local password check.
fn real_uid(pid: i32) -> Option<u32> {
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let mut buf = [0u8; 2048];
    let n = file.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n])
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn refused(peer: &PeerCred, what: &str) -> Response {
    tracing::warn!(
        peer_uid = peer.uid,
        peer_pid = peer.pid,
        "refused: a peer may not {what}"
    );
    Response::Error(format!("uid {} may not {what}", peer.uid))
}

/// An NSS lookup's answer, or the store's failure as an error the module
/// turns into UNAVAIL.
fn lookup<T>(found: authbridge_store::Result<T>, answer: fn(T) -> Response) -> Response {
    match found {
        Ok(found) => answer(found),
        Err(e) => {
            // The detail (which database, where) is for the log: lookups
            // come from every local user.
            tracing::warn!("nss lookup: the store cannot answer: {e}");
            Response::Error("the store cannot answer".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32) -> PeerCred {
        PeerCred {
            pid: 4242,
            uid,
            gid: uid,
        }
    }

    /// Root and 999 (the daemon's uid here) are privileged.
    fn privileged(uid: u32) -> bool {
        uid == 0 || uid == 999
    }

    fn no_proc() -> Option<u32> {
        panic!("/proc read although the answer was known")
    }

    #[test]
    fn an_unprivileged_peer_is_its_own_source_whatever_it_claims() {
        for (rhost, claim) in [(Some("192.0.2.1"), None), (None, Some(1001)), (None, None)] {
            assert_eq!(
                local_source(rhost, claim, &peer(1000), privileged, no_proc),
                "local uid 1000"
            );
        }
    }

    #[test]
    fn a_privileged_peer_speaks_for_the_remote_host_or_for_who_started_it() {
        let su = peer(0);
        assert_eq!(
            local_source(Some("192.0.2.1"), Some(1001), &su, privileged, no_proc),
            "192.0.2.1"
        );
        assert_eq!(
            local_source(None, Some(1001), &su, privileged, no_proc),
            "local uid 1001"
        );
        // An old module does not say: the real uid comes from /proc.
        assert_eq!(
            local_source(Some(""), None, &su, privileged, || Some(1002)),
            "local uid 1002"
        );
        // Started by root (or unknown): the peer itself.
        assert_eq!(
            local_source(None, Some(999), &su, privileged, no_proc),
            "local uid 0"
        );
        assert_eq!(
            local_source(None, None, &su, privileged, || None),
            "local uid 0"
        );
        // A remote IPv6 host counts by its /64, as over HTTP; a name as it is.
        assert_eq!(
            local_source(Some("2001:db8:1:2::7"), None, &su, privileged, no_proc),
            local_source(Some("2001:db8:1:2:ffff::1"), None, &su, privileged, no_proc),
        );
        assert_eq!(
            local_source(Some("2001:db8:1:2::7"), None, &su, privileged, no_proc),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            local_source(Some("host.example"), None, &su, privileged, no_proc),
            "host.example"
        );
    }

    // --- The decision policy, with scripted backends (no server needed) -------

    use authbridge_core::{Accepted, Authenticator, Chain, UnavailableKind};
    use authbridge_testsupport::Scripted;

    fn imap(verdict: Verdict) -> Arc<Scripted> {
        Scripted::always(BackendKind::Imap, verdict)
    }

    fn accepts(uid: &str) -> Verdict {
        Verdict::Accepted(Accepted {
            uid: uid.into(),
            groups: vec![],
        })
    }

    /// A service over a fresh store whose only backend is `backend`.
    fn service_with(backend: Arc<Scripted>) -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("passwd"), "daemon:x:1:1::/:/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("group"), "").unwrap();
        let store = Arc::new(
            authbridge_store::SqliteStore::open(&dir.path().join("store.sqlite")).unwrap(),
        );
        let names = Arc::new(authbridge_local::names_over(
            &dir.path().join("passwd"),
            &dir.path().join("group"),
        ));
        let loader_store = Arc::clone(&store);
        let key = authbridge_local::SecretKey::load_or_create(&dir.path().join("key")).unwrap();
        let twofactor = Arc::new(authbridge_twofactor::TwoFactor::new(
            store.clone(),
            &key,
            "test",
        ));
        let loader: Loader = Box::new(move || {
            let backend: Arc<dyn Authenticator> = backend.clone();
            Ok(Engine {
                gate: Gate::new(
                    Chain::new(vec![backend]),
                    loader_store.clone(),
                    crate::clock::now,
                    Arc::clone(&names),
                ),
                names: Arc::clone(&names),
                revoke_app_passwords_on_reset: false,
                daemon: DaemonSettings::default(),
                throttle: ThrottleSettings::default(),
                nss: NssSettings::default(),
                policy: PasswordPolicy::default(),
                mail: None,
                twofactor: Arc::clone(&twofactor),
                twofactor_setup_url: "http://127.0.0.1/twofactor/setup".into(),
            })
        });
        let service = Service::new(loader, store).unwrap();
        (dir, service)
    }

    async fn status(service: &Service, user: &str) -> (AuthStatus, Option<String>) {
        let checked = service
            .check_password(
                user,
                SecretString::from("Some-pass-123".to_owned()),
                "test",
                "192.0.2.9",
                None,
            )
            .await;
        (checked.answer.status, checked.answer.uid)
    }

    #[tokio::test]
    async fn an_accepting_backend_names_the_account() {
        let (_dir, service) = service_with(imap(accepts("alice")));
        assert_eq!(
            status(&service, "Alice@Example.org").await,
            (AuthStatus::Accepted, Some("alice".into()))
        );
    }

    #[tokio::test]
    async fn a_wrong_password_at_a_backend_that_serves_the_login_is_rejected() {
        let (_dir, service) = service_with(imap(Verdict::Rejected(RejectReason::BadCredentials)));
        assert_eq!(status(&service, "bob").await, (AuthStatus::Rejected, None));
    }

    #[tokio::test]
    async fn a_login_no_backend_serves_and_the_store_does_not_know_is_unknown() {
        let (_dir, service) = service_with(imap(Verdict::Rejected(RejectReason::WrongDomain(
            "example.org".into(),
        ))));
        assert_eq!(
            status(&service, "carol").await,
            (AuthStatus::UnknownUser, None)
        );
    }

    #[tokio::test]
    async fn a_disabled_account_is_said_to_be_disabled() {
        let (_dir, service) = service_with(imap(Verdict::Rejected(RejectReason::AccountDisabled)));
        assert_eq!(status(&service, "dave").await, (AuthStatus::Disabled, None));
    }

    #[tokio::test]
    async fn system_names_are_left_to_pam_unix_and_never_reach_a_backend() {
        let backend = imap(accepts("daemon"));
        let (_dir, service) = service_with(Arc::clone(&backend));
        for user in ["daemon", "root", "Daemon"] {
            assert_eq!(
                status(&service, user).await,
                (AuthStatus::UnknownUser, None),
                "{user}"
            );
        }
        assert_eq!(backend.asked(), 0);
    }

    #[tokio::test]
    async fn an_unreachable_backend_without_a_verifier_is_unavailable_not_rejected() {
        let (_dir, service) = service_with(imap(Verdict::unavailable(
            UnavailableKind::Connect,
            "connection refused",
        )));
        assert_eq!(
            status(&service, "erin").await,
            (AuthStatus::Unavailable, None)
        );
    }

    #[tokio::test]
    async fn malformed_input_is_refused_before_any_backend_is_asked() {
        let backend = imap(accepts("frank"));
        let (_dir, service) = service_with(Arc::clone(&backend));
        assert_eq!(
            status(&service, "frank\nroot").await,
            (AuthStatus::Rejected, None)
        );
        assert_eq!(status(&service, "").await, (AuthStatus::Rejected, None));
        assert_eq!(backend.asked(), 0);
    }
}
