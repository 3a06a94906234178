//! `authbridge doctor`'s look at an SMB server without credentials: TCP, then
//! one SMB2 NEGOTIATE (MS-SMB2 2.2.3) over direct TCP (a 4-byte length prefix,
//! MS-SMB2 2.1), and the dialect the server picks. No session is set up, so
//! libsmbclient (a login's way in) is not needed.

use authbridge_core::{Deadline, UnavailableKind, Verdict, io_unavailable};
use std::io::{Read, Write};

/// The dialects a login may end up with (SMB2 is authbridge's minimum): 2.0.2,
/// 2.1, 3.0, 3.0.2. 3.1.1 needs negotiate contexts, which this probe does not send.
const DIALECTS: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];
const SMB2_MAGIC: [u8; 4] = [0xFE, b'S', b'M', b'B'];
const HEADER_LEN: usize = 64;
/// An answer bigger than this is not a NEGOTIATE response worth reading.
const MAX_ANSWER: usize = 64 * 1024;

/// The NEGOTIATE request with its direct-TCP length prefix.
fn negotiate_request() -> Vec<u8> {
    let mut smb = Vec::with_capacity(HEADER_LEN + 36 + 2 * DIALECTS.len());
    // Header: magic, structure size 64, credit charge, status, command
    // NEGOTIATE (0), credits asked, flags, next command, message id, process
    // id, tree id, session id, signature — all zero but these.
    smb.extend_from_slice(&SMB2_MAGIC);
    smb.extend_from_slice(&64u16.to_le_bytes());
    smb.extend_from_slice(&[0; 2 + 4 + 2]);
    smb.extend_from_slice(&1u16.to_le_bytes());
    smb.extend_from_slice(&[0; 4 + 4 + 8 + 4 + 4 + 8 + 16]);
    // NEGOTIATE: structure size 36, dialect count, security mode (signing
    // enabled), reserved, capabilities, client GUID, start time, dialects.
    smb.extend_from_slice(&36u16.to_le_bytes());
    smb.extend_from_slice(&(DIALECTS.len() as u16).to_le_bytes());
    smb.extend_from_slice(&1u16.to_le_bytes());
    smb.extend_from_slice(&[0; 2 + 4 + 16 + 8]);
    for d in DIALECTS {
        smb.extend_from_slice(&d.to_le_bytes());
    }
    let mut frame = (smb.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&smb);
    frame
}

/// The dialect in a NEGOTIATE response, or why there is none.
fn dialect_of(answer: &[u8]) -> Result<u16, String> {
    if answer.len() < HEADER_LEN + 6 || answer[..4] != SMB2_MAGIC {
        return Err("the answer is not SMB2".into());
    }
    let command = u16::from_le_bytes([answer[12], answer[13]]);
    let status = u32::from_le_bytes([answer[8], answer[9], answer[10], answer[11]]);
    if command != 0 {
        return Err(format!("answered command {command:#06x}, not NEGOTIATE"));
    }
    if status != 0 {
        return Err(format!("NEGOTIATE refused (status {status:#010x})"));
    }
    Ok(u16::from_le_bytes([
        answer[HEADER_LEN + 4],
        answer[HEADER_LEN + 5],
    ]))
}

/// Fills `buf`, each read bounded by what is left of `deadline`: a server that
/// sends a byte at a time cannot stretch the probe past it.
fn read_full(
    tcp: &mut std::net::TcpStream,
    buf: &mut [u8],
    deadline: &Deadline,
) -> std::io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        tcp.set_read_timeout(Some(deadline.remaining()?))?;
        match tcp.read(&mut buf[got..])? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    Ok(())
}

/// Connects to `host:port`, negotiates, and says which dialect the server chose.
pub fn probe(host: &str, port: u16, deadline: Deadline) -> Result<String, Verdict> {
    let endpoint = format!("{host}:{port}");
    let mut tcp = deadline
        .connect_tcp(host, port)
        .map_err(|e| io_unavailable(&format!("connect to {endpoint}"), &e))?;
    let io = |what: &str, e: std::io::Error| io_unavailable(&format!("{what} {endpoint}"), &e);
    tcp.write_all(&negotiate_request())
        .map_err(|e| io("send to", e))?;
    let mut prefix = [0u8; 4];
    read_full(&mut tcp, &mut prefix, &deadline).map_err(|e| io("read from", e))?;
    let len = u32::from_be_bytes(prefix) as usize & 0x00FF_FFFF;
    let protocol = |detail: String| {
        Verdict::unavailable(UnavailableKind::Protocol, format!("{endpoint}: {detail}"))
    };
    if prefix[0] != 0 || len > MAX_ANSWER {
        return Err(protocol("the answer is not SMB over direct TCP".into()));
    }
    let mut answer = vec![0u8; len];
    read_full(&mut tcp, &mut answer, &deadline).map_err(|e| io("read from", e))?;
    let dialect = dialect_of(&answer).map_err(protocol)?;
    Ok(format!(
        "SMB2 NEGOTIATE, dialect {}.{}.{}",
        dialect >> 8,
        (dialect >> 4) & 0xF,
        dialect & 0xF
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_length_prefixed_smb2_negotiate() {
        let frame = negotiate_request();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(len, HEADER_LEN + 36 + 8);
        assert_eq!(frame[4..8], SMB2_MAGIC);
        assert_eq!(
            frame[4 + HEADER_LEN..4 + HEADER_LEN + 2],
            36u16.to_le_bytes()
        );
    }

    #[test]
    fn answers_that_are_not_a_negotiate_response_are_named() {
        assert!(dialect_of(b"HTTP/1.1 400").is_err());
        let mut refused = vec![0u8; HEADER_LEN + 6];
        refused[..4].copy_from_slice(&SMB2_MAGIC);
        refused[8..12].copy_from_slice(&0xC000_0022u32.to_le_bytes());
        assert!(dialect_of(&refused).unwrap_err().contains("0xc0000022"));
        let mut fine = vec![0u8; HEADER_LEN + 6];
        fine[..4].copy_from_slice(&SMB2_MAGIC);
        fine[HEADER_LEN + 4..HEADER_LEN + 6].copy_from_slice(&0x0302u16.to_le_bytes());
        assert_eq!(dialect_of(&fine), Ok(0x0302));
    }
}
