//! The second step of a login: after a right password, a code (TOTP or a backup
//! code) for users who set one up or are under enforcement.
//!
//! Over the socket a module that knows second factors sends
//! `AuthenticateTwoStep`; when a code is needed the daemon answers with a
//! ticket, the module asks its user (PAM conversation) and sends the code with
//! the ticket. A ticket is good once, for `TICKET_LIFETIME`, from the peer uid
//! it was given to. Older requests (`Authenticate`, a module from before second
//! factors) are refused for such users: that module cannot ask for the code.
//!
//! Over HTTP there is no second prompt: as in Nextcloud, app passwords are how
//! clients authenticate once a second factor is on, and a login password of such
//! a user is refused with words that say so.

use authbridge_core::{BackendKind, canonical_uid};
use authbridge_proto::{
    AuthAnswer, AuthRequest, AuthStatus, PeerCred, Response, Step, Ticket, TwoFactorMode,
};
use authbridge_twofactor::{CodeCheck, Requirement};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

use super::{Answered, Checked, Engine, Service};
use crate::clock::now_ms;
use crate::decision_line::DecisionLine;
use crate::throttle::Admission;

/// How long a user has to type the code after the password.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(300);
/// Tickets waiting at once; past it, expired ones go, then the oldest.
pub const MAX_PENDING: usize = 4096;
/// Tickets one user may have waiting; past it, that user's oldest goes (a user
/// looping on their own password cannot push out everybody else's).
pub const MAX_PENDING_PER_USER: usize = 4;

/// A right password waiting for its code.
struct Pending {
    uid: String,
    login: String,
    source: String,
    service: String,
    peer_uid: u32,
    issued: Instant,
}

/// The tickets handed out and not yet used.
#[derive(Default)]
pub struct Challenges(Mutex<HashMap<Ticket, Pending>>);

impl Challenges {
    fn issue(&self, pending: Pending) -> Ticket {
        let mut ticket = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut ticket);
        let now = pending.issued;
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mine: Vec<(Ticket, Instant)> = map
            .iter()
            .filter(|(_, p)| p.uid == pending.uid)
            .map(|(t, p)| (*t, p.issued))
            .collect();
        if mine.len() >= MAX_PENDING_PER_USER
            && let Some((oldest, _)) = mine.iter().min_by_key(|(_, issued)| *issued)
        {
            map.remove(oldest);
        }
        if map.len() >= MAX_PENDING {
            map.retain(|_, p| now.saturating_duration_since(p.issued) < TICKET_LIFETIME);
        }
        if map.len() >= MAX_PENDING
            && let Some(oldest) = map.iter().min_by_key(|(_, p)| p.issued).map(|(t, _)| *t)
        {
            map.remove(&oldest);
        }
        map.insert(ticket, pending);
        ticket
    }

    /// The ticket's login, used up whatever the answer; None when it is unknown,
    /// expired, or another peer uid's.
    fn take(&self, ticket: &Ticket, peer_uid: u32, now: Instant) -> Option<Pending> {
        let pending = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(ticket)?;
        let fresh = now.saturating_duration_since(pending.issued) < TICKET_LIFETIME;
        (pending.peer_uid == peer_uid && fresh).then_some(pending)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// What a right password leads to, by the user's requirement, the module's
/// `twofactor=` mode (None: a module too old to ask) and the credential's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Accept,
    AskCode,
    /// Enforced (or `twofactor=required`) and nothing to give a code with.
    Enrol,
    /// A second factor is on and the way in cannot ask for it: only an app
    /// password passes.
    AppPasswordNeeded,
    /// The module cannot ask for a code.
    ModuleTooOld,
}

pub(crate) fn next(
    requirement: Requirement,
    mode: Option<TwoFactorMode>,
    kind: Option<BackendKind>,
) -> Next {
    let app_password = kind == Some(BackendKind::AppPassword);
    match (requirement, mode) {
        (Requirement::None, Some(TwoFactorMode::Required)) => Next::Enrol,
        (Requirement::None, _) => Next::Accept,
        (_, None) => Next::ModuleTooOld,
        (_, Some(TwoFactorMode::Off)) if app_password => Next::Accept,
        (Requirement::Enrol, Some(TwoFactorMode::Off)) => Next::Enrol,
        (_, Some(TwoFactorMode::Off)) => Next::AppPasswordNeeded,
        // A way in that can ask asks whatever the credential: an app password
        // leaked from a script does not open an interactive login.
        (Requirement::Code, _) => Next::AskCode,
        (Requirement::Enrol, _) => Next::Enrol,
    }
}

/// The words a refused user reads.
pub(crate) fn enrol_message(engine: &Engine, uid: &str) -> String {
    format!(
        "Two-factor authentication is required for {uid}, but no second factor is set up. \
         Set one up at {url} (or ask an administrator: authbridge twofactorauth totp setup {uid}).",
        url = engine.twofactor_setup_url
    )
}

pub(crate) fn app_password_message(uid: &str) -> String {
    format!(
        "Two-factor authentication is on for {uid}, and this service cannot ask for a code: \
         log in with an app password."
    )
}

impl Service {
    /// The second factor this accepted login still needs (None: it is complete).
    /// A store that cannot say refuses (unavailable), never lets through.
    pub(crate) fn after_password(
        &self,
        engine: &Engine,
        uid: &str,
        mode: Option<TwoFactorMode>,
        kind: Option<BackendKind>,
    ) -> Result<Next, ()> {
        match engine.twofactor.requirement(uid) {
            Ok(requirement) => Ok(next(requirement, mode, kind)),
            Err(e) => {
                tracing::error!(
                    ?uid,
                    "the store could not say whether a second factor is needed: {e}"
                );
                Err(())
            }
        }
    }

    /// `Authenticate` from a module that cannot ask for a code: a user who
    /// needs one is refused with words for the log, never let through.
    pub(super) fn gate_old_module(&self, checked: Checked) -> Answered {
        let Checked {
            answer,
            mut line,
            kind,
            ..
        } = checked;
        let (uid, answer) = match accepted_uid(answer, &mut line) {
            Ok(accepted) => accepted,
            Err(answer) => {
                return Answered {
                    response: Response::Auth(answer),
                    line,
                };
            }
        };
        let response = match self.after_password(&self.engine(), &uid, None, kind) {
            Ok(Next::Accept) => {
                self.note_login(&uid);
                Response::Auth(answer)
            }
            Ok(_) => {
                note(&mut line, "required; refused: the module cannot ask for it");
                Response::Error(format!(
                    "two-factor authentication is on for {uid} and this pam_authbridge cannot \
                     ask for a code: upgrade the module"
                ))
            }
            Err(()) => unavailable(&mut line),
        };
        Answered { response, line }
    }

    pub(super) async fn authenticate_two_step(
        &self,
        request: AuthRequest,
        real_uid: Option<u32>,
        mode: TwoFactorMode,
        peer: &PeerCred,
    ) -> Answered {
        let (checked, source) = match self.check_socket_password(&request, real_uid, peer).await {
            Ok(checked) => checked,
            Err(refusal) => return refusal,
        };
        let Checked {
            answer,
            mut line,
            kind,
            ..
        } = checked;
        let (uid, answer) = match accepted_uid(answer, &mut line) {
            Ok(accepted) => accepted,
            Err(answer) => {
                return Answered {
                    response: Response::Step(Step::Done(answer)),
                    line,
                };
            }
        };
        let engine = self.engine();
        let step = match self.after_password(&engine, &uid, Some(mode), kind) {
            Ok(Next::Accept) => {
                self.note_login(&uid);
                Step::Done(answer)
            }
            Ok(Next::AskCode) => {
                note(&mut line, "code asked");
                let ticket = self.challenges.issue(Pending {
                    uid,
                    login: canonical_uid(&request.user),
                    source,
                    service: request.service.clone(),
                    peer_uid: peer.uid,
                    issued: Instant::now(),
                });
                Step::Code { ticket }
            }
            Ok(Next::Enrol) => {
                note(&mut line, "required; refused: nothing set up");
                Step::Refused {
                    message: enrol_message(&engine, &uid),
                }
            }
            Ok(Next::AppPasswordNeeded | Next::ModuleTooOld) => {
                note(&mut line, "required; refused: this service cannot ask");
                Step::Refused {
                    message: app_password_message(&uid),
                }
            }
            Err(()) => {
                note(&mut line, "unknown: the store failed");
                Step::Done(AuthAnswer {
                    status: AuthStatus::Unavailable,
                    uid: None,
                })
            }
        };
        Answered {
            response: Response::Step(step),
            line,
        }
    }

    /// The code for a ticket: throttled and counted like a password.
    pub(super) async fn second_factor(
        &self,
        ticket: Ticket,
        code: Zeroizing<String>,
        peer: &PeerCred,
    ) -> Answered {
        let started = Instant::now();
        let done = |status, uid| Response::Step(Step::Done(AuthAnswer { status, uid }));
        let Some(pending) = self.challenges.take(&ticket, peer.uid, started) else {
            if matches!(
                self.refusals_logged.take(now_ms()),
                crate::log_budget::Verdict::Write { .. }
            ) {
                tracing::warn!(
                    peer_uid = peer.uid,
                    "a second factor came with an unknown or expired ticket"
                );
            }
            return Answered::now(done(AuthStatus::Rejected, None));
        };
        let engine = self.engine();
        let line = |status, backend: &str, detail: &str| {
            Some(DecisionLine {
                login: pending.login.clone(),
                uid: (status == AuthStatus::Accepted).then(|| pending.uid.clone()),
                backend: backend.to_owned(),
                verdict: status,
                detail: detail.into(),
                second_factor: "checked",
                latency_ms: started.elapsed().as_millis() as u64,
                service: pending.service.clone(),
                source: pending.source.clone(),
                peer: Some(*peer),
            })
        };
        let _in_flight = match self
            .throttle
            .admit(&pending.login, &pending.source, &engine.throttle, now_ms)
            .await
        {
            Admission::Go(pass) => pass,
            Admission::WaitThenGo(wait, pass) => {
                tokio::time::sleep(wait).await;
                pass
            }
            Admission::Refuse(_) => {
                return Answered {
                    response: done(AuthStatus::Throttled, None),
                    line: line(AuthStatus::Throttled, "throttle", "code not checked"),
                };
            }
        };
        match self.enabled(&pending.uid) {
            Ok(true) => {}
            Ok(false) => {
                return Answered {
                    response: done(AuthStatus::Disabled, None),
                    line: line(AuthStatus::Disabled, "-", "disabled after the password"),
                };
            }
            Err(_) => {
                return Answered {
                    response: done(AuthStatus::Unavailable, None),
                    line: line(AuthStatus::Unavailable, "-", "the store cannot be read"),
                };
            }
        }
        let now = now_ms() / 1000;
        let (status, backend, detail) = match engine.twofactor.verify(&pending.uid, &code, now) {
            Ok(CodeCheck::Accepted(provider)) => {
                self.throttle.succeeded(&pending.login, &pending.source);
                self.note_login(&pending.uid);
                (AuthStatus::Accepted, provider.id(), "code accepted")
            }
            Ok(CodeCheck::Delayed(_)) => (
                AuthStatus::Throttled,
                "-",
                "too many wrong codes for this user lately: not checked",
            ),
            Ok(check) => {
                self.throttle
                    .failed(&pending.login, &pending.source, &engine.throttle, now_ms());
                let detail = match check {
                    CodeCheck::Replayed => "a code already used (replayed)",
                    _ => "wrong code",
                };
                (AuthStatus::Rejected, "-", detail)
            }
            Err(e) => {
                tracing::error!(uid = ?pending.uid, "checking a second factor failed: {e}");
                (AuthStatus::Unavailable, "-", "the store or the key failed")
            }
        };
        let uid = (status == AuthStatus::Accepted).then(|| pending.uid.clone());
        Answered {
            response: done(status, uid),
            line: line(status, backend, detail),
        }
    }
}

/// The uid a right password named, with its answer; or the answer to give as
/// it is. An accept naming nobody becomes unavailable: it cannot pass a
/// second-factor check.
fn accepted_uid(
    answer: AuthAnswer,
    line: &mut Option<DecisionLine>,
) -> Result<(String, AuthAnswer), AuthAnswer> {
    match (answer.status, answer.uid.clone()) {
        (AuthStatus::Accepted, Some(uid)) => Ok((uid, answer)),
        (AuthStatus::Accepted, None) => {
            note(line, "unknown: accepted without a uid");
            Err(AuthAnswer {
                status: AuthStatus::Unavailable,
                uid: None,
            })
        }
        _ => Err(answer),
    }
}

fn note(line: &mut Option<DecisionLine>, what: &'static str) {
    if let Some(line) = line {
        line.second_factor = what;
    }
}

fn unavailable(line: &mut Option<DecisionLine>) -> Response {
    note(line, "unknown: the store failed");
    Response::Auth(AuthAnswer {
        status: AuthStatus::Unavailable,
        uid: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_follows_a_right_password() {
        use BackendKind::{AppPassword, Database};
        use Requirement::{Code, Enrol, None as Nothing};
        use TwoFactorMode::{Off, Optional, Required};
        let cases = [
            (Nothing, Some(Optional), Some(Database), Next::Accept),
            (Nothing, None, Some(Database), Next::Accept),
            (Nothing, Some(Off), Some(Database), Next::Accept),
            (Nothing, Some(Required), Some(Database), Next::Enrol),
            (Code, Some(Optional), Some(Database), Next::AskCode),
            (Code, Some(Optional), Some(AppPassword), Next::AskCode),
            (Code, Some(Required), Some(Database), Next::AskCode),
            (Code, Some(Off), Some(AppPassword), Next::Accept),
            (Code, Some(Off), Some(Database), Next::AppPasswordNeeded),
            (Code, None, Some(AppPassword), Next::ModuleTooOld),
            (Enrol, Some(Optional), Some(Database), Next::Enrol),
            (Enrol, Some(Off), Some(AppPassword), Next::Accept),
            (Enrol, Some(Off), Some(Database), Next::Enrol),
            (Enrol, None, Some(Database), Next::ModuleTooOld),
        ];
        for (requirement, mode, kind, want) in cases {
            assert_eq!(
                next(requirement, mode, kind),
                want,
                "{requirement:?} {mode:?} {kind:?}"
            );
        }
    }

    fn pending(peer_uid: u32) -> Pending {
        Pending {
            uid: "alice".into(),
            login: "alice".into(),
            source: "s".into(),
            service: "sshd".into(),
            peer_uid,
            issued: Instant::now(),
        }
    }

    #[test]
    fn a_ticket_is_good_once_and_for_its_peer_only() {
        let challenges = Challenges::default();
        let now = Instant::now();
        let ticket = challenges.issue(pending(0));
        assert!(challenges.take(&[0; 32], 0, now).is_none(), "unknown");
        assert!(
            challenges.take(&ticket, 1000, now).is_none(),
            "another peer"
        );
        assert!(
            challenges.take(&ticket, 0, now).is_none(),
            "used up by the wrong peer's try"
        );
        let ticket = challenges.issue(pending(0));
        assert!(challenges.take(&ticket, 0, now).is_some());
        assert!(challenges.take(&ticket, 0, now).is_none(), "used");
    }

    #[test]
    fn expired_tickets_are_refused_and_the_map_stays_bounded() {
        let challenges = Challenges::default();
        let expired = challenges.issue(pending(0));
        let later = Instant::now() + TICKET_LIFETIME;
        assert!(challenges.take(&expired, 0, later).is_none());
        for i in 0..MAX_PENDING + 10 {
            let mut p = pending(0);
            p.uid = format!("u{i}");
            challenges.issue(p);
        }
        assert_eq!(challenges.len(), MAX_PENDING);
    }

    #[test]
    fn one_user_cannot_push_out_everybody_elses_tickets() {
        let challenges = Challenges::default();
        let now = Instant::now();
        let mut bob = pending(0);
        bob.uid = "bob".into();
        let bobs = challenges.issue(bob);
        let first = challenges.issue(pending(0));
        for _ in 0..100 {
            challenges.issue(pending(0));
        }
        assert_eq!(challenges.len(), MAX_PENDING_PER_USER + 1);
        assert!(
            challenges.take(&first, 0, now).is_none(),
            "alice's oldest went"
        );
        assert!(challenges.take(&bobs, 0, now).is_some(), "bob's stays");
    }
}
