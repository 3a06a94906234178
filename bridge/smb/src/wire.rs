//! The frames between the SMB backend and its child process, over the child's
//! stdin and stdout. Hand-written because it is tiny and must keep the password
//! in zeroizing buffers end to end, which serde formats do not promise.
//!
//! Every frame is a u32 big-endian length and that many bytes. A request is six
//! length-prefixed strings (server, port, share, workgroup, user, password) and a
//! u32 timeout in milliseconds; a reply is one status byte and a message.

use std::io::{self, Read, Write};
use zeroize::Zeroizing;

/// Frames larger than this are refused: nothing legitimate comes near it.
const MAX_FRAME: u32 = 64 * 1024;

pub struct Request {
    pub server: String,
    pub port: u16,
    pub share: String,
    pub workgroup: String,
    pub user: String,
    pub password: Zeroizing<String>,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// The server accepted the credentials.
    Accepted = 0,
    /// The server refused them (libsmbclient's EACCES/EPERM).
    Rejected = 1,
    /// Could not connect.
    Connect = 2,
    /// Timed out.
    Timeout = 3,
    /// Anything else: the share does not exist, protocol errors.
    Failed = 4,
    /// Refused: the account is disabled (or expired).
    AccountDisabled = 5,
    /// Refused: the account is locked out.
    AccountLocked = 6,
    /// Refused: the password has expired or must be changed.
    PasswordExpired = 7,
}

impl Status {
    fn from_byte(b: u8) -> io::Result<Status> {
        Ok(match b {
            0 => Status::Accepted,
            1 => Status::Rejected,
            2 => Status::Connect,
            3 => Status::Timeout,
            4 => Status::Failed,
            5 => Status::AccountDisabled,
            6 => Status::AccountLocked,
            7 => Status::PasswordExpired,
            _ => return Err(invalid("unknown status byte")),
        })
    }
}

pub struct Reply {
    pub status: Status,
    pub message: String,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> io::Result<&'a [u8]> {
    if buf.len() < n {
        return Err(invalid("truncated frame"));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take_u32(buf: &mut &[u8]) -> io::Result<u32> {
    Ok(u32::from_be_bytes(take(buf, 4)?.try_into().unwrap()))
}

fn take_str(buf: &mut &[u8]) -> io::Result<String> {
    let n = take_u32(buf)? as usize;
    String::from_utf8(take(buf, n)?.to_vec()).map_err(|_| invalid("string is not UTF-8"))
}

fn write_frame(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    out.write_all(&(body.len() as u32).to_be_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
fn read_frame(input: &mut impl Read) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(invalid("frame too large"));
    }
    let mut body = Zeroizing::new(vec![0u8; len as usize]);
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

impl Request {
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut body = Zeroizing::new(Vec::new());
        put_bytes(&mut body, self.server.as_bytes());
        put_bytes(&mut body, self.port.to_string().as_bytes());
        put_bytes(&mut body, self.share.as_bytes());
        put_bytes(&mut body, self.workgroup.as_bytes());
        put_bytes(&mut body, self.user.as_bytes());
        put_bytes(&mut body, self.password.as_bytes());
        body.extend_from_slice(&self.timeout_ms.to_be_bytes());
        body
    }

    /// The whole frame, length prefix included, ready to write.
    pub fn frame(&self) -> Zeroizing<Vec<u8>> {
        let body = self.encode();
        let mut frame = Zeroizing::new(Vec::with_capacity(body.len() + 4));
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        frame
    }

    pub fn read_from(input: &mut impl Read) -> io::Result<Option<Request>> {
        let Some(body) = read_frame(input)? else {
            return Ok(None);
        };
        let mut buf: &[u8] = &body;
        let request = Request {
            server: take_str(&mut buf)?,
            port: take_str(&mut buf)?
                .parse()
                .map_err(|_| invalid("bad port"))?,
            share: take_str(&mut buf)?,
            workgroup: take_str(&mut buf)?,
            user: take_str(&mut buf)?,
            password: Zeroizing::new(take_str(&mut buf)?),
            timeout_ms: take_u32(&mut buf)?,
        };
        if !buf.is_empty() {
            return Err(invalid("trailing bytes in request"));
        }
        Ok(Some(request))
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = vec![self.status as u8];
        put_bytes(&mut body, self.message.as_bytes());
        body
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        write_frame(out, &self.encode())
    }

    pub fn decode(body: &[u8]) -> io::Result<Reply> {
        let mut buf = body;
        let status = Status::from_byte(*take(&mut buf, 1)?.first().unwrap())?;
        let message = take_str(&mut buf)?;
        Ok(Reply { status, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let r = Request {
            server: "127.0.0.1".into(),
            port: 4445,
            share: "share".into(),
            workgroup: "WG".into(),
            user: "alice".into(),
            password: Zeroizing::new("pässwörd with space".into()),
            timeout_ms: 1500,
        };
        let frame = r.frame();
        let back = Request::read_from(&mut &frame[..]).unwrap().unwrap();
        assert_eq!(
            (
                back.server.as_str(),
                back.port,
                back.share.as_str(),
                back.workgroup.as_str()
            ),
            ("127.0.0.1", 4445, "share", "WG")
        );
        assert_eq!(
            (back.user.as_str(), back.password.as_str()),
            ("alice", "pässwörd with space")
        );
        assert_eq!(back.timeout_ms, 1500);
        assert!(Request::read_from(&mut &[][..]).unwrap().is_none());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(Request::read_from(&mut &[0, 0, 0, 3, 1, 2, 3][..]).is_err());
        assert!(Request::read_from(&mut &[0xff, 0xff, 0xff, 0xff][..]).is_err());
        assert!(Reply::decode(&[9, 0, 0, 0, 0]).is_err());
        let ok = Reply {
            status: Status::Rejected,
            message: "no".into(),
        };
        let back = Reply::decode(&ok.encode()).unwrap();
        assert_eq!(
            (back.status, back.message.as_str()),
            (Status::Rejected, "no")
        );
    }
}
