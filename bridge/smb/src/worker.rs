//! The daemon side of the SMB child: one task owns the child process and feeds
//! it one request at a time from a bounded queue.

use authbridge_core::{UnavailableKind, Verdict};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use crate::wire::{Reply, Request};

/// How to start the child: a program and its arguments (for the `authbridge`
/// binary, itself with the hidden `smb-child` subcommand).
#[derive(Debug, Clone)]
pub struct ChildProgram {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The child's HOME, holding `.smb/smb.conf` with [`crate::child::CLIENT_CONF`].
    pub home: PathBuf,
}

pub struct Job {
    pub request: Request,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<Reply, Verdict>>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

pub fn start(program: ChildProgram, queue: usize, endpoint: String) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(queue);
    tokio::spawn(serve(rx, program, endpoint));
    tx
}

async fn serve(mut jobs: mpsc::Receiver<Job>, program: ChildProgram, endpoint: String) {
    let mut running: Option<Running> = None;
    while let Some(job) = jobs.recv().await {
        if job.reply.is_closed() {
            continue; // the caller gave up already
        }
        let left = job.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = job.reply.send(Err(timed_out(&endpoint, Duration::ZERO)));
            continue;
        }
        if running.is_none() {
            match spawn(&program) {
                Ok(r) => running = Some(r),
                Err(e) => {
                    let _ = job.reply.send(Err(Verdict::unavailable(
                        UnavailableKind::Protocol,
                        format!(
                            "cannot start the SMB child {}: {e}",
                            program.program.display()
                        ),
                    )));
                    continue;
                }
            }
        }
        let r = running.as_mut().expect("started above");
        let outcome = tokio::time::timeout(left, exchange(r, &job.request)).await;
        let answer = match outcome {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                stop(&mut running).await;
                Err(Verdict::unavailable(
                    UnavailableKind::Protocol,
                    format!("SMB child failed while checking against {endpoint}: {e}"),
                ))
            }
            Err(_) => {
                // libsmbclient is stuck in a call; only ending the process frees it.
                stop(&mut running).await;
                Err(timed_out(&endpoint, left))
            }
        };
        let _ = job.reply.send(answer);
    }
    stop(&mut running).await;
}

fn timed_out(endpoint: &str, after: Duration) -> Verdict {
    Verdict::unavailable(
        UnavailableKind::Timeout,
        format!("no answer from {endpoint} within the timeout ({after:?} left when sent)"),
    )
}

fn spawn(program: &ChildProgram) -> std::io::Result<Running> {
    let mut child = Command::new(&program.program)
        .args(&program.args)
        // Nothing inherited: HOME is authbridge's own directory, so libsmbclient
        // never reads the invoking user's ~/.smb.
        .env_clear()
        .env("HOME", &program.home)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    Ok(Running {
        child,
        stdin,
        stdout,
    })
}

async fn exchange(r: &mut Running, request: &Request) -> std::io::Result<Reply> {
    r.stdin.write_all(&request.frame()).await?;
    r.stdin.flush().await?;
    let len = r.stdout.read_u32().await?;
    if len > 64 * 1024 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "reply too large",
        ));
    }
    let mut body = vec![0u8; len as usize];
    r.stdout.read_exact(&mut body).await?;
    Reply::decode(&body)
}

async fn stop(running: &mut Option<Running>) {
    if let Some(mut r) = running.take() {
        let _ = r.child.start_kill();
        let _ = r.child.wait().await;
    }
}
