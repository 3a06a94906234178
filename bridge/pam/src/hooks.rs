//! The PAM hooks. Each one parses its options, asks the daemon one question and
//! maps the answer; a panic becomes PAM_SYSTEM_ERR instead of unwinding into libpam.

use authbridge_proto::{
    AccountStatus, AuthRequest, AuthStatus, Client, PasswordChange, PasswordOwner, Request,
    Response, Step as ProtoStep, Ticket,
};
use libc::{LOG_DEBUG, LOG_ERR, LOG_NOTICE, LOG_WARNING};
use pam::constants::{PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PamFlag, PamResultCode};
use pam::conv::Conv;
use pam::items::{AuthTok, OldAuthTok, RHost, Service};
use pam::module::{PamHandle, PamHooks};
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;
use zeroize::Zeroizing;

use crate::options::Options;
use crate::pam::{PAM_AUTHTOK, PAM_OLDAUTHTOK, log, set_token};

use PamResultCode::*;

pub struct AuthbridgePam;
pam::pam_hooks!(AuthbridgePam);

/// Connecting is local and quick; a daemon that does not accept within this is stuck.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// chauthtok's two passes (Linux-PAM's values).
const PAM_PRELIM_CHECK: PamFlag = 0x4000;
const PAM_UPDATE_AUTHTOK: PamFlag = 0x2000;

fn guarded(f: impl FnOnce() -> PamResultCode) -> PamResultCode {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(PAM_SYSTEM_ERR)
}

/// What a call needs besides the handle: the options, and the log.
struct Call<'a> {
    pamh: &'a mut PamHandle,
    options: Options,
}

impl<'a> Call<'a> {
    fn new(pamh: &'a mut PamHandle, args: &[&CStr], hook: &str) -> Self {
        let options = Options::parse(args);
        let call = Call { pamh, options };
        if !call.options.unknown.is_empty() {
            call.log(
                LOG_WARNING,
                &format!(
                    "{hook}: unknown options ignored: {}",
                    call.options.unknown.join(" ")
                ),
            );
        }
        call
    }

    fn log(&self, priority: libc::c_int, message: &str) {
        log(self.pamh, priority, message);
    }

    fn debug(&self, message: &str) {
        if self.options.debug {
            self.log(LOG_DEBUG, message);
        }
    }

    /// The user PAM asks about; a system account is not ours (PAM_USER_UNKNOWN).
    fn user(&mut self) -> Result<String, PamResultCode> {
        let user = self.pamh.get_user(None).map_err(|e| {
            self.log(LOG_ERR, &format!("cannot get the user name: {e:?}"));
            e
        })?;
        if crate::system::is_system_user(&user) {
            self.debug(&format!("{user:?} is a system account: not authbridge's"));
            return Err(PAM_USER_UNKNOWN);
        }
        Ok(user)
    }

    fn item(&self, get: impl FnOnce(&PamHandle) -> Option<String>) -> Option<String> {
        get(self.pamh)
    }

    fn ask(&self, request: &Request) -> Option<Response> {
        self.answered(self.exchange(request))
    }

    /// One request and its answer, the daemon's refusals included.
    fn exchange(&self, request: &Request) -> Result<Response, authbridge_proto::ClientError> {
        Client::connect_with(&self.options.socket, CONNECT_TIMEOUT, self.options.timeout)?
            .call_once(request)
    }

    /// The answer, or None (logged) when the daemon refused or could not be asked.
    fn answered(
        &self,
        result: Result<Response, authbridge_proto::ClientError>,
    ) -> Option<Response> {
        match result {
            Ok(Response::Error(e)) => {
                self.log(LOG_ERR, &format!("the daemon refused the request: {e}"));
                None
            }
            Ok(response) => Some(response),
            Err(e) => {
                self.log(LOG_ERR, &e.to_string());
                None
            }
        }
    }

    fn say(&self, message: &str) {
        if let Ok(Some(conv)) = self.pamh.get_item::<Conv>() {
            let _ = conv.send(PAM_ERROR_MSG, message);
        }
    }

    fn prompt(&self, text: &str) -> Result<Zeroizing<String>, PamResultCode> {
        let conv = self.pamh.get_item::<Conv>()?.ok_or(PAM_CONV_ERR)?;
        let reply = conv.send(PAM_PROMPT_ECHO_OFF, text)?.ok_or(PAM_CONV_ERR)?;
        let text = reply.as_str().map_err(|_| PAM_AUTH_ERR)?;
        Ok(Zeroizing::new(text.to_owned()))
    }

    fn token(&self, old: bool) -> Option<Zeroizing<String>> {
        let bytes = if old {
            self.pamh
                .get_item::<OldAuthTok>()
                .ok()
                .flatten()?
                .to_owned_secret()
        } else {
            self.pamh
                .get_item::<AuthTok>()
                .ok()
                .flatten()?
                .to_owned_secret()
        };
        let text = bytes.as_str().ok()?;
        (!text.is_empty()).then(|| Zeroizing::new(text.to_owned()))
    }

    /// The password as the options say: the stacked token (and whether it came from
    /// the stack), or a prompt, which then becomes PAM_AUTHTOK for the modules below.
    fn password(&mut self) -> Result<(Zeroizing<String>, bool), PamResultCode> {
        if self.options.use_first_pass || self.options.try_first_pass {
            if let Some(token) = self.token(false) {
                return Ok((token, true));
            }
            if self.options.use_first_pass {
                self.debug("use_first_pass: no password from an earlier module");
                return Err(PAM_AUTH_ERR);
            }
        }
        Ok((self.prompt_password()?, false))
    }

    fn prompt_password(&mut self) -> Result<Zeroizing<String>, PamResultCode> {
        let password = self.prompt("Password: ")?;
        set_token(self.pamh, PAM_AUTHTOK, password.as_bytes());
        Ok(password)
    }
}

fn item_string(pamh: &PamHandle, rhost: bool) -> Option<String> {
    let text = if rhost {
        pamh.get_item::<RHost>()
            .ok()
            .flatten()?
            .0
            .to_str()
            .ok()?
            .to_owned()
    } else {
        pamh.get_item::<Service>()
            .ok()
            .flatten()?
            .0
            .to_str()
            .ok()?
            .to_owned()
    };
    (!text.is_empty()).then_some(text)
}

fn authenticate(call: &mut Call<'_>) -> PamResultCode {
    let user = match call.user() {
        Ok(u) => u,
        Err(e) => return e,
    };
    let (password, from_stack) = match call.password() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut first = password.clone();
    let mut step = match check(call, &user, password) {
        Some(step) => step,
        None => return PAM_AUTHINFO_UNAVAIL,
    };
    // try_first_pass: the stacked password was not this one; ask for it.
    if from_stack && call.options.try_first_pass && step == Step::Done(AuthStatus::Rejected) {
        let password = match call.prompt_password() {
            Ok(p) => p,
            Err(e) => return e,
        };
        first = password.clone();
        step = match check(call, &user, password) {
            Some(step) => step,
            None => return PAM_AUTHINFO_UNAVAIL,
        };
    }
    let status = match step {
        Step::Done(status) => status,
        Step::Code(ticket) => match second_factor(call, &user, ticket, &first) {
            Ok(status) => status,
            Err(code) => return code,
        },
        Step::Refused(message) => {
            call.log(LOG_NOTICE, &format!("{user}: {message}"));
            call.say(&message);
            return PAM_AUTH_ERR;
        }
    };
    match status {
        AuthStatus::Accepted => PAM_SUCCESS,
        AuthStatus::Rejected | AuthStatus::Throttled => PAM_AUTH_ERR,
        AuthStatus::Disabled => {
            call.log(LOG_NOTICE, &format!("{user}: the account is disabled"));
            PAM_AUTH_ERR
        }
        AuthStatus::UnknownUser => PAM_USER_UNKNOWN,
        AuthStatus::Unavailable => PAM_AUTHINFO_UNAVAIL,
    }
}

/// Where a password check got to.
#[derive(PartialEq, Eq)]
enum Step {
    Done(AuthStatus),
    /// The password is right and a code is needed: ask for it.
    Code(Ticket),
    /// Refused with words for the user (enrol first, or use an app password).
    Refused(String),
}

/// The prompt for the second factor.
const CODE_PROMPT: &str = "Verification code: ";

/// Asks for the code through the conversation and has the daemon check it.
fn second_factor(
    call: &Call<'_>,
    user: &str,
    ticket: Ticket,
    password: &str,
) -> Result<AuthStatus, PamResultCode> {
    let code = call.prompt(CODE_PROMPT)?;
    if code.trim().is_empty() {
        return Ok(AuthStatus::Rejected);
    }
    // A conversation that answers every hidden prompt with the password (sshd's
    // PasswordAuthentication) cannot give a code: refused here, not counted as
    // a wrong code.
    if code.as_str() == password {
        call.log(
            LOG_NOTICE,
            &format!(
                "{user}: the code prompt was answered with the password; this way in cannot \
                 ask for a second factor (sshd: use KbdInteractiveAuthentication)"
            ),
        );
        return Ok(AuthStatus::Rejected);
    }
    let answer = call.ask(&Request::SecondFactor {
        ticket,
        code: code.into(),
    });
    let status = match answer {
        Some(Response::Step(ProtoStep::Done(answer))) => answer.status,
        Some(Response::Step(ProtoStep::Refused { message })) => {
            call.say(&message);
            AuthStatus::Rejected
        }
        Some(other) => {
            call.log(LOG_ERR, &format!("unexpected answer to a code: {other:?}"));
            return Err(PAM_AUTHINFO_UNAVAIL);
        }
        None => return Err(PAM_AUTHINFO_UNAVAIL),
    };
    call.debug(&format!("second factor of {user}: {status:?}"));
    Ok(status)
}

/// One password check; None when the daemon cannot be asked.
fn check(call: &Call<'_>, user: &str, password: Zeroizing<String>) -> Option<Step> {
    if password.is_empty() {
        return Some(Step::Done(AuthStatus::Rejected));
    }
    let request = AuthRequest {
        service: call.item(|p| item_string(p, false)).unwrap_or_default(),
        user: user.to_owned(),
        password: password.into(),
        rhost: call.item(|p| item_string(p, true)),
    };
    // Who ran su or sudo: the throttle's source when there is no remote host.
    // SAFETY: getuid cannot fail and touches no memory.
    let real_uid = unsafe { libc::getuid() };
    let two_step = Request::AuthenticateTwoStep {
        request: request.clone(),
        real_uid: Some(real_uid),
        mode: call.options.twofactor,
    };
    let answer = match call.exchange(&two_step) {
        // A daemon older than this module (not restarted since an upgrade) does
        // not know the request, nor second factors: asked as before.
        Ok(Response::Error(e)) if e.starts_with(authbridge_proto::BAD_REQUEST) => {
            old_check(call, request, real_uid)
        }
        other => call.answered(other),
    };
    let step = match answer? {
        Response::Step(ProtoStep::Done(answer)) | Response::Auth(answer) => {
            Step::Done(answer.status)
        }
        Response::Step(ProtoStep::Code { ticket }) => Step::Code(ticket),
        Response::Step(ProtoStep::Refused { message }) => Step::Refused(message),
        other => {
            call.log(
                LOG_ERR,
                &format!("unexpected answer to a password: {other:?}"),
            );
            return None;
        }
    };
    call.debug(&match &step {
        Step::Done(status) => format!("authenticate {user}: {status:?}"),
        Step::Code(_) => format!("authenticate {user}: password right, a code is needed"),
        Step::Refused(why) => format!("authenticate {user}: refused: {why}"),
    });
    Some(step)
}

/// The requests of daemons from before second factors.
fn old_check(call: &Call<'_>, request: AuthRequest, real_uid: u32) -> Option<Response> {
    let started_by = Request::AuthenticateStartedBy {
        request: request.clone(),
        real_uid,
    };
    match call.exchange(&started_by) {
        Ok(Response::Error(e)) if e.starts_with(authbridge_proto::BAD_REQUEST) => {
            call.ask(&Request::Authenticate(request))
        }
        other => call.answered(other),
    }
}

fn account(call: &mut Call<'_>) -> PamResultCode {
    let user = match call.user() {
        Ok(u) => u,
        Err(e) => return e,
    };
    let Some(Response::Account(status)) = call.ask(&Request::Account { user: user.clone() }) else {
        return PAM_AUTHINFO_UNAVAIL;
    };
    call.debug(&format!("acct_mgmt {user}: {status:?}"));
    match status {
        AccountStatus::Active => PAM_SUCCESS,
        AccountStatus::Disabled => PAM_ACCT_EXPIRED,
        AccountStatus::Unknown => PAM_USER_UNKNOWN,
    }
}

fn open_session(call: &mut Call<'_>) -> PamResultCode {
    let user = match call.user() {
        Ok(u) => u,
        Err(e) => return e,
    };
    let request = Request::OpenSession {
        user,
        service: call.item(|p| item_string(p, false)).unwrap_or_default(),
        rhost: call.item(|p| item_string(p, true)),
    };
    match call.ask(&request) {
        Some(Response::Done) => PAM_SUCCESS,
        _ => PAM_SESSION_ERR,
    }
}

fn change_password(call: &mut Call<'_>, flags: PamFlag) -> PamResultCode {
    let user = match call.user() {
        Ok(u) => u,
        Err(e) => return e,
    };
    let Some(Response::PasswordOwner(owner)) =
        call.ask(&Request::PasswordOwner { user: user.clone() })
    else {
        return PAM_AUTHINFO_UNAVAIL;
    };
    match owner {
        PasswordOwner::Local => {}
        PasswordOwner::Unknown => return PAM_USER_UNKNOWN,
        PasswordOwner::External(text) => {
            call.say(&text);
            return PAM_AUTHTOK_ERR;
        }
    }
    if flags & PAM_PRELIM_CHECK != 0 {
        return PAM_SUCCESS;
    }
    if flags & PAM_UPDATE_AUTHTOK == 0 {
        return PAM_SERVICE_ERR;
    }
    // SAFETY: getuid cannot fail and touches no memory.
    let by_root = unsafe { libc::getuid() } == 0;
    let old = if by_root {
        None
    } else {
        match call
            .token(true)
            .map(Ok)
            .unwrap_or_else(|| call.prompt("Current password: "))
        {
            Ok(old) => {
                set_token(call.pamh, PAM_OLDAUTHTOK, old.as_bytes());
                Some(old)
            }
            Err(e) => return e,
        }
    };
    let new = match call.token(false) {
        Some(new) if call.options.use_first_pass || call.options.try_first_pass => new,
        _ => {
            let first = match call.prompt("New password: ") {
                Ok(p) => p,
                Err(e) => return e,
            };
            let again = match call.prompt("Retype new password: ") {
                Ok(p) => p,
                Err(e) => return e,
            };
            if first != again {
                call.say("Sorry, passwords do not match.");
                return PAM_AUTHTOK_ERR;
            }
            set_token(call.pamh, PAM_AUTHTOK, first.as_bytes());
            first
        }
    };
    let request = Request::ChangePassword {
        user: user.clone(),
        old_password: old.map(Into::into),
        new_password: new.into(),
    };
    let Some(Response::PasswordChange(result)) = call.ask(&request) else {
        return PAM_AUTHINFO_UNAVAIL;
    };
    call.debug(&format!("chauthtok {user}: {result:?}"));
    match result {
        PasswordChange::Changed => PAM_SUCCESS,
        PasswordChange::Denied => PAM_AUTH_ERR,
        PasswordChange::Unknown => PAM_USER_UNKNOWN,
        PasswordChange::External(text) | PasswordChange::Policy(text) => {
            call.say(&text);
            PAM_AUTHTOK_ERR
        }
    }
}

impl PamHooks for AuthbridgePam {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        guarded(|| authenticate(&mut Call::new(pamh, &args, "authenticate")))
    }

    fn acct_mgmt(pamh: &mut PamHandle, args: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        guarded(|| account(&mut Call::new(pamh, &args, "acct_mgmt")))
    }

    /// Nothing to establish: authbridge issues no credentials beyond the login.
    fn sm_setcred(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        PAM_SUCCESS
    }

    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        guarded(|| open_session(&mut Call::new(pamh, &args, "open_session")))
    }

    fn sm_close_session(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        PAM_SUCCESS
    }

    fn sm_chauthtok(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        guarded(|| change_password(&mut Call::new(pamh, &args, "chauthtok"), flags))
    }
}
