//! Length-prefixed, versioned frames.

use serde::{Serialize, de::DeserializeOwned};
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// Bumped on any incompatible change to the messages.
pub const VERSION: u8 = 1;
/// Larger frames are refused before allocating: a full enumeration of 100,000
/// users fits, a hostile length prefix does not.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("protocol version {0} is not supported (this side speaks {VERSION})")]
    Version(u8),
    #[error("empty frame")]
    Empty,
    #[error("{0} unexpected bytes after the answer")]
    Trailing(usize),
    #[error("malformed message: {0}")]
    Malformed(#[from] postcard::Error),
}

/// The frame body (version byte + message), zeroized on drop since requests carry
/// passwords.
pub fn encode<T: Serialize>(message: &T) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    let mut body = Zeroizing::new(vec![VERSION]);
    let encoded = Zeroizing::new(postcard::to_allocvec(message)?);
    body.extend_from_slice(&encoded);
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    Ok(body)
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    match body.split_first() {
        None => Err(FrameError::Empty),
        Some((&VERSION, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(FrameError::Version(other)),
    }
}

pub fn write_frame(w: &mut impl Write, body: &[u8]) -> Result<(), FrameError> {
    // One write for prefix and body: one syscall, and no half frame on the wire
    // unless the peer goes away.
    let mut frame = Zeroizing::new(Vec::with_capacity(4 + body.len()));
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame)?;
    Ok(())
}

pub fn read_frame(r: &mut impl Read) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthRequest, Request};

    #[test]
    fn a_request_survives_the_round_trip() {
        let request = Request::Authenticate(AuthRequest {
            service: "sshd".into(),
            user: "alice".into(),
            password: "pässword with spaces".to_string().into(),
            rhost: Some("192.0.2.1".into()),
        });
        let mut wire = Vec::new();
        write_frame(&mut wire, &encode(&request).unwrap()).unwrap();
        let body = read_frame(&mut wire.as_slice()).unwrap();
        assert_eq!(decode::<Request>(&body).unwrap(), request);
    }

    #[test]
    fn another_version_and_garbage_are_refused() {
        assert!(matches!(
            decode::<Request>(&[2, 0]),
            Err(FrameError::Version(2))
        ));
        assert!(matches!(decode::<Request>(&[]), Err(FrameError::Empty)));
        assert!(matches!(
            decode::<Request>(&[VERSION, 200, 1]),
            Err(FrameError::Malformed(_))
        ));
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut huge.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
    }
}
