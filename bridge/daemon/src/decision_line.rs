//! The log line of each password decision: what it says, and how it is
//! written (clipped, escaped, in the sink's format).

use authbridge_core::{Attempt, Verdict};
use authbridge_proto::{AuthStatus, PeerCred};

/// One decision's log line, written when it is dropped. The accepting thread
/// (`inline`) drops it right after the answer is sent, so that a login does not
/// wait for the log, and before it accepts the next connection: whoever has an
/// answer from a later connection knows the line is written. Every other path
/// drops it before answering. Nothing secret in it; everything a client chose
/// (login, service, rhost) and everything a server said is written quoted and
/// escaped (Debug), so neither a line nor a field can be forged.
pub struct DecisionLine {
    pub login: String,
    pub uid: Option<String>,
    pub backend: String,
    pub verdict: AuthStatus,
    pub detail: Detail,
    /// What became of the second factor ("-": none was needed or asked).
    pub second_factor: &'static str,
    pub latency_ms: u64,
    pub service: String,
    pub source: String,
    pub peer: Option<PeerCred>,
}

/// How a decision came about, for its line: words, or the backends' attempts,
/// put into words only when the line is written (after the answer).
pub enum Detail {
    Text(String),
    Attempts(Vec<Attempt>),
}

impl From<String> for Detail {
    fn from(text: String) -> Detail {
        Detail::Text(text)
    }
}

impl From<&str> for Detail {
    fn from(text: &str) -> Detail {
        Detail::Text(text.to_owned())
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Text(text) => f.write_str(text),
            Detail::Attempts(attempts) => f.write_str(&describe(attempts)),
        }
    }
}

/// A client-chosen field (login, PAM service, remote host) is logged up to this
/// many bytes: a 16 MiB service name must not make a line journald splits (its
/// tail a forged-looking entry of its own, or the JSON of both halves broken).
const FIELD_MAX: usize = 256;
/// What servers said, and the attempts, up to this many bytes.
const DETAIL_MAX: usize = 2048;

/// `text` up to `max` bytes (at a character boundary), with how much was cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes cut]", &text[..end], text.len() - end).into()
}

impl Drop for DecisionLine {
    fn drop(&mut self) {
        let login = clip(&self.login, FIELD_MAX);
        let service = clip(&self.service, FIELD_MAX);
        let source = clip(&self.source, FIELD_MAX);
        let detail = self.detail.to_string();
        let detail = clip(&detail, DETAIL_MAX);
        let uid = self.uid.as_deref().unwrap_or("-");
        let peer_uid = self.peer.map(|p| p.uid as i64).unwrap_or(-1);
        let peer_pid = self.peer.map(|p| p.pid as i64).unwrap_or(-1);
        use crate::log_format::Sink;
        let sink = crate::log_format::sink();
        if sink != Sink::Text {
            // Fields as they are (JSON and the journal frame them); journalctl
            // shows MESSAGE, so there it says the decision in words too.
            let message: std::borrow::Cow<'_, str> = match sink {
                Sink::Journal => format!(
                    "decision: {login:?} {:?} by {} ({} ms, {service:?}, {source:?})",
                    self.verdict, self.backend, self.latency_ms,
                )
                .into(),
                _ => "decision".into(),
            };
            tracing::info!(
                login = &*login,
                uid,
                backend = self.backend.as_str(),
                verdict = ?self.verdict,
                detail = &*detail,
                second_factor = self.second_factor,
                latency_ms = self.latency_ms,
                service = &*service,
                source = &*source,
                peer_uid,
                peer_pid,
                message = %message,
            );
            return;
        }
        tracing::info!(
            login = ?login,
            uid = ?uid,
            backend = %self.backend,
            verdict = ?self.verdict,
            detail = ?detail,
            second_factor = self.second_factor,
            latency_ms = self.latency_ms,
            service = ?service,
            source = ?source,
            peer_uid,
            peer_pid,
            "decision"
        );
    }
}

/// "imap: rejected (wrong password...)" per attempt, for the decision log.
pub fn describe(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| match &a.verdict {
            Verdict::Accepted(_) => format!("{}: accepted", a.backend),
            Verdict::Rejected(r) => format!("{}: rejected ({r})", a.backend),
            Verdict::Unavailable { kind, detail } => {
                format!("{}: unavailable ({kind}: {detail})", a.backend)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_fields_are_clipped_at_a_character_boundary_saying_how_much() {
        assert_eq!(super::clip("short", 8), "short");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(super::clip("aaaé-rest", 4), "aaa…[7 bytes cut]");
    }
}
