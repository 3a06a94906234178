//! The file's layout: a header, fixed-size records, open-addressing indexes and
//! a string area, all little-endian, all offsets checked on every access.
//!
//! ```text
//! 0    magic "ABNSSMC\0"          8
//! 8    version                    u32
//! 12   state (0 live, 1 stale)    u32   written in place; outside the checksum
//! 16   store generation           u64
//! 24   expires (unix seconds)     u64
//! 32   file length                u64
//! 40   header checksum            u64   FNV-1a of the header but state and itself
//! 48   sections                   17 × u32 (see `Sections`)
//! 128  passwd records  44 bytes: name, gecos, dir, shell (offset, length), uid, gid, check
//!      group records   24 bytes: name, gid, first member, member count, check
//!      member refs      8 bytes: (offset, length)
//!      initgroups      20 bytes: name, first gid, gid count, check
//!      gids             4 bytes
//!      four indexes    u32 slots: record number + 1, 0 empty; 2n slots rounded
//!                      up to a power of two, linear probing
//!      strings
//! ```
//!
//! Each record's `check` is FNV-1a over the record and everything it refers to,
//! verified on every read: a lookup costs a hash of what it returns, never a
//! pass over the whole file (mapping a 100,000-user file stays O(1)). Every
//! index slot only points at a candidate whose key is compared again, so a
//! corrupt index can cost a miss, never a wrong answer.

use authbridge_proto::{Group, Passwd};

pub const MAGIC: [u8; 8] = *b"ABNSSMC\0";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 128;
pub const STATE_OFFSET: usize = 12;
pub const STATE_LIVE: u32 = 0;
pub const STATE_STALE: u32 = 1;
/// Files above this are refused by both sides: far beyond a million users.
pub const MAX_FILE_LEN: usize = 1 << 30;

const PASSWD_LEN: usize = 44;
const GROUP_LEN: usize = 24;
const MEMBER_LEN: usize = 8;
const INIT_LEN: usize = 20;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

fn name_hash(name: &[u8]) -> u64 {
    fnv(FNV_OFFSET, name)
}

fn id_hash(id: u32) -> u64 {
    u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16
}

fn slots_for(count: usize) -> usize {
    (count * 2).next_power_of_two().max(1)
}

/// Where each part starts, and how many entries it has (17 × u32 at offset 48).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sections {
    passwd: u32,
    passwd_count: u32,
    group: u32,
    group_count: u32,
    member: u32,
    member_count: u32,
    init: u32,
    init_count: u32,
    gid: u32,
    gid_count: u32,
    strings: u32,
    strings_len: u32,
    pw_by_name: u32,
    pw_by_uid: u32,
    gr_by_name: u32,
    gr_by_gid: u32,
    init_by_name: u32,
}

impl Sections {
    const FIELDS: usize = 17;

    fn to_array(self) -> [u32; Self::FIELDS] {
        [
            self.passwd,
            self.passwd_count,
            self.group,
            self.group_count,
            self.member,
            self.member_count,
            self.init,
            self.init_count,
            self.gid,
            self.gid_count,
            self.strings,
            self.strings_len,
            self.pw_by_name,
            self.pw_by_uid,
            self.gr_by_name,
            self.gr_by_gid,
            self.init_by_name,
        ]
    }

    fn from_array(a: [u32; Self::FIELDS]) -> Self {
        Sections {
            passwd: a[0],
            passwd_count: a[1],
            group: a[2],
            group_count: a[3],
            member: a[4],
            member_count: a[5],
            init: a[6],
            init_count: a[7],
            gid: a[8],
            gid_count: a[9],
            strings: a[10],
            strings_len: a[11],
            pw_by_name: a[12],
            pw_by_uid: a[13],
            gr_by_name: a[14],
            gr_by_gid: a[15],
            init_by_name: a[16],
        }
    }
}

/// What one file holds: the daemon's whole exported directory at one generation.
pub struct Snapshot<'a> {
    pub generation: u64,
    /// Unix seconds after which the module no longer answers from the file.
    pub expires: u64,
    pub passwd: &'a [Passwd],
    pub groups: &'a [Group],
    /// Each exported user's supplementary groups (initgroups).
    pub initgroups: &'a [(String, Vec<u32>)],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the NSS cache would exceed {MAX_FILE_LEN} bytes")]
pub struct TooLarge;

/// The string area, each distinct string once (every user shares a shell).
#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    seen: std::collections::HashMap<String, (u32, u32)>,
}

impl Strings {
    fn add(&mut self, s: &str) -> Result<(u32, u32), TooLarge> {
        if let Some(&at) = self.seen.get(s) {
            return Ok(at);
        }
        let at = (
            u32::try_from(self.bytes.len()).map_err(|_| TooLarge)?,
            u32::try_from(s.len()).map_err(|_| TooLarge)?,
        );
        self.bytes.extend_from_slice(s.as_bytes());
        self.seen.insert(s.to_owned(), at);
        Ok(at)
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_ref(out: &mut Vec<u8>, (off, len): (u32, u32)) {
    put_u32(out, off);
    put_u32(out, len);
}

fn fits(n: usize) -> Result<u32, TooLarge> {
    u32::try_from(n).map_err(|_| TooLarge)
}

/// Builds an index: for each key's hash, the first free slot from hash & mask.
fn index(hashes: impl Iterator<Item = u64>, count: usize) -> Vec<u32> {
    let slots = slots_for(count);
    let mut table = vec![0u32; slots];
    for (i, h) in hashes.enumerate() {
        let mut slot = (h as usize) & (slots - 1);
        while table[slot] != 0 {
            slot = (slot + 1) & (slots - 1);
        }
        table[slot] = i as u32 + 1;
    }
    table
}

/// The file's bytes for a snapshot.
pub fn encode(snapshot: &Snapshot<'_>) -> Result<Vec<u8>, TooLarge> {
    let mut strings = Strings::default();
    let passwd: Vec<[(u32, u32); 4]> = snapshot
        .passwd
        .iter()
        .map(|p| {
            Ok([
                strings.add(&p.name)?,
                strings.add(&p.gecos)?,
                strings.add(&p.dir)?,
                strings.add(&p.shell)?,
            ])
        })
        .collect::<Result<_, TooLarge>>()?;
    let mut members: Vec<(u32, u32)> = Vec::new();
    let mut groups: Vec<((u32, u32), u32, u32)> = Vec::new();
    for g in snapshot.groups {
        let first = fits(members.len())?;
        for m in &g.members {
            members.push(strings.add(m)?);
        }
        groups.push((strings.add(&g.name)?, first, fits(g.members.len())?));
    }
    let mut gids: Vec<u32> = Vec::new();
    let mut inits: Vec<((u32, u32), u32, u32)> = Vec::new();
    for (name, ids) in snapshot.initgroups {
        let first = fits(gids.len())?;
        gids.extend_from_slice(ids);
        inits.push((strings.add(name)?, first, fits(ids.len())?));
    }

    let np = snapshot.passwd.len();
    let ng = snapshot.groups.len();
    let ni = snapshot.initgroups.len();
    let mut s = Sections::default();
    let mut at = HEADER_LEN;
    let mut place = |len: usize| -> Result<u32, TooLarge> {
        let start = fits(at)?;
        at = at.checked_add(len).ok_or(TooLarge)?;
        Ok(start)
    };
    s.passwd = place(np * PASSWD_LEN)?;
    s.group = place(ng * GROUP_LEN)?;
    s.member = place(members.len() * MEMBER_LEN)?;
    s.init = place(ni * INIT_LEN)?;
    s.gid = place(gids.len() * 4)?;
    s.pw_by_name = place(slots_for(np) * 4)?;
    s.pw_by_uid = place(slots_for(np) * 4)?;
    s.gr_by_name = place(slots_for(ng) * 4)?;
    s.gr_by_gid = place(slots_for(ng) * 4)?;
    s.init_by_name = place(slots_for(ni) * 4)?;
    s.strings = place(strings.bytes.len())?;
    if at > MAX_FILE_LEN {
        return Err(TooLarge);
    }
    s.passwd_count = fits(np)?;
    s.group_count = fits(ng)?;
    s.member_count = fits(members.len())?;
    s.init_count = fits(ni)?;
    s.gid_count = fits(gids.len())?;
    s.strings_len = fits(strings.bytes.len())?;

    let text = |(off, len): (u32, u32)| &strings.bytes[off as usize..(off + len) as usize];
    let mut out = Vec::with_capacity(at);
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, STATE_LIVE);
    out.extend_from_slice(&snapshot.generation.to_le_bytes());
    out.extend_from_slice(&snapshot.expires.to_le_bytes());
    out.extend_from_slice(&(at as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // checksum, set below
    for v in s.to_array() {
        put_u32(&mut out, v);
    }
    out.resize(HEADER_LEN, 0);

    for (p, refs) in snapshot.passwd.iter().zip(&passwd) {
        let start = out.len();
        for r in refs {
            put_ref(&mut out, *r);
        }
        put_u32(&mut out, p.uid);
        put_u32(&mut out, p.gid);
        let check = refs
            .iter()
            .fold(fnv(FNV_OFFSET, &out[start..]), |h, r| fnv(h, text(*r)));
        put_u32(&mut out, check as u32);
    }
    for (g, (name, first, count)) in snapshot.groups.iter().zip(&groups) {
        let start = out.len();
        put_ref(&mut out, *name);
        put_u32(&mut out, g.gid);
        put_u32(&mut out, *first);
        put_u32(&mut out, *count);
        let mut h = fnv(fnv(FNV_OFFSET, &out[start..]), text(*name));
        for m in &members[*first as usize..(*first + *count) as usize] {
            h = fnv(h, text(*m));
        }
        put_u32(&mut out, h as u32);
    }
    for m in &members {
        put_ref(&mut out, *m);
    }
    for (name, first, count) in &inits {
        let start = out.len();
        put_ref(&mut out, *name);
        put_u32(&mut out, *first);
        put_u32(&mut out, *count);
        let mut h = fnv(fnv(FNV_OFFSET, &out[start..]), text(*name));
        for gid in &gids[*first as usize..(*first + *count) as usize] {
            h = fnv(h, &gid.to_le_bytes());
        }
        put_u32(&mut out, h as u32);
    }
    for gid in &gids {
        put_u32(&mut out, *gid);
    }
    let tables = [
        index(
            snapshot.passwd.iter().map(|p| name_hash(p.name.as_bytes())),
            np,
        ),
        index(snapshot.passwd.iter().map(|p| id_hash(p.uid)), np),
        index(
            snapshot.groups.iter().map(|g| name_hash(g.name.as_bytes())),
            ng,
        ),
        index(snapshot.groups.iter().map(|g| id_hash(g.gid)), ng),
        index(
            snapshot
                .initgroups
                .iter()
                .map(|(n, _)| name_hash(n.as_bytes())),
            ni,
        ),
    ];
    for table in tables {
        for slot in table {
            put_u32(&mut out, slot);
        }
    }
    out.extend_from_slice(&strings.bytes);
    debug_assert_eq!(out.len(), at);
    let checksum = header_checksum(&out[..HEADER_LEN]);
    out[40..48].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

fn header_checksum(header: &[u8]) -> u64 {
    let h = fnv(FNV_OFFSET, &header[..STATE_OFFSET]);
    let h = fnv(h, &header[16..40]);
    fnv(h, &header[48..HEADER_LEN])
}

/// Why a file is not used (the module then asks the daemon).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Invalid {
    #[error("not an authbridge NSS cache")]
    Magic,
    #[error("format version {0}, this build reads {VERSION}")]
    Version(u32),
    #[error("the length in the header does not match the file")]
    Length,
    #[error("header checksum mismatch")]
    Checksum,
    #[error("a section lies outside the file")]
    Section,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The header's fields a reader needs before trusting the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub state: u32,
    pub generation: u64,
    pub expires: u64,
    pub length: u64,
}

/// Reads and checks a header (the first [`HEADER_LEN`] bytes of a file).
pub fn header(b: &[u8]) -> Result<Header, Invalid> {
    let head = b.get(..HEADER_LEN).ok_or(Invalid::Length)?;
    if head[..8] != MAGIC {
        return Err(Invalid::Magic);
    }
    let version = u32_at(head, 8).ok_or(Invalid::Length)?;
    if version != VERSION {
        return Err(Invalid::Version(version));
    }
    if u64_at(head, 40) != Some(header_checksum(head)) {
        return Err(Invalid::Checksum);
    }
    Ok(Header {
        state: u32_at(head, STATE_OFFSET).ok_or(Invalid::Length)?,
        generation: u64_at(head, 16).ok_or(Invalid::Length)?,
        expires: u64_at(head, 24).ok_or(Invalid::Length)?,
        length: u64_at(head, 32).ok_or(Invalid::Length)?,
    })
}

/// A passwd entry as stored, borrowed from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswdRef<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub gecos: &'a str,
    pub dir: &'a str,
    pub shell: &'a str,
}

/// A group entry as stored; `members` yields each member's name.
#[derive(Debug, Clone, Copy)]
pub struct GroupRef<'a> {
    pub name: &'a str,
    pub gid: u32,
    view: View<'a>,
    first: u32,
    count: u32,
}

impl<'a> GroupRef<'a> {
    pub fn member_count(&self) -> usize {
        self.count as usize
    }

    /// Members, in stored order (checked when the group was read).
    pub fn members(&self) -> impl ExactSizeIterator<Item = &'a str> + Clone + use<'a> {
        let view = self.view;
        let first = self.first as usize;
        (first..first + self.count as usize).map(move |i| view.member(i).unwrap_or(""))
    }
}

/// A validated file: every lookup bounds-checks and verifies what it returns.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    bytes: &'a [u8],
    s: Sections,
}

impl<'a> View<'a> {
    /// Checks the header and that every section lies inside `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<View<'a>, Invalid> {
        let h = header(bytes)?;
        if h.length != bytes.len() as u64 || bytes.len() > MAX_FILE_LEN {
            return Err(Invalid::Length);
        }
        let mut fields = [0u32; Sections::FIELDS];
        for (i, f) in fields.iter_mut().enumerate() {
            *f = u32_at(bytes, 48 + 4 * i).ok_or(Invalid::Length)?;
        }
        let s = Sections::from_array(fields);
        let in_file = |start: u32, count: u32, size: usize| {
            (count as usize)
                .checked_mul(size)
                .and_then(|len| (start as usize).checked_add(len))
                .is_some_and(|end| start as usize >= HEADER_LEN && end <= bytes.len())
        };
        let ok = in_file(s.passwd, s.passwd_count, PASSWD_LEN)
            && in_file(s.group, s.group_count, GROUP_LEN)
            && in_file(s.member, s.member_count, MEMBER_LEN)
            && in_file(s.init, s.init_count, INIT_LEN)
            && in_file(s.gid, s.gid_count, 4)
            && in_file(s.strings, s.strings_len, 1)
            && [
                (s.pw_by_name, s.passwd_count),
                (s.pw_by_uid, s.passwd_count),
                (s.gr_by_name, s.group_count),
                (s.gr_by_gid, s.group_count),
                (s.init_by_name, s.init_count),
            ]
            .iter()
            .all(|&(at, n)| in_file(at, fits(slots_for(n as usize)).unwrap_or(u32::MAX), 4));
        if !ok {
            return Err(Invalid::Section);
        }
        Ok(View { bytes, s })
    }

    pub(crate) fn sections(&self) -> Sections {
        self.s
    }

    /// A view of bytes [`View::parse`] accepted with these sections before (a
    /// mapping whose header and sections never change).
    pub(crate) fn validated(bytes: &'a [u8], s: Sections) -> View<'a> {
        View { bytes, s }
    }

    pub fn passwd_count(&self) -> usize {
        self.s.passwd_count as usize
    }

    pub fn group_count(&self) -> usize {
        self.s.group_count as usize
    }

    fn string(&self, off: u32, len: u32) -> Option<&'a str> {
        if off.checked_add(len)? > self.s.strings_len {
            return None;
        }
        let start = self.s.strings as usize + off as usize;
        // (A NUL inside cannot pass into C: the module's buffer cuts there.)
        std::str::from_utf8(self.bytes.get(start..start + len as usize)?).ok()
    }

    fn string_ref(&self, at: usize) -> Option<&'a str> {
        self.string(u32_at(self.bytes, at)?, u32_at(self.bytes, at + 4)?)
    }

    fn record(&self, start: u32, count: u32, size: usize, i: usize) -> Option<usize> {
        (i < count as usize).then(|| start as usize + i * size)
    }

    fn member(&self, i: usize) -> Option<&'a str> {
        let at = self.record(self.s.member, self.s.member_count, MEMBER_LEN, i)?;
        self.string_ref(at)
    }

    /// The i-th passwd entry (enumeration order), if intact.
    pub fn passwd_at(&self, i: usize) -> Option<PasswdRef<'a>> {
        let at = self.record(self.s.passwd, self.s.passwd_count, PASSWD_LEN, i)?;
        let fields = [
            self.string_ref(at)?,
            self.string_ref(at + 8)?,
            self.string_ref(at + 16)?,
            self.string_ref(at + 24)?,
        ];
        let check = fields
            .iter()
            .fold(fnv(FNV_OFFSET, self.bytes.get(at..at + 40)?), |h, s| {
                fnv(h, s.as_bytes())
            });
        if u32_at(self.bytes, at + 40)? != check as u32 {
            return None;
        }
        Some(PasswdRef {
            name: fields[0],
            gecos: fields[1],
            dir: fields[2],
            shell: fields[3],
            uid: u32_at(self.bytes, at + 32)?,
            gid: u32_at(self.bytes, at + 36)?,
        })
    }

    /// The i-th group entry (enumeration order), if intact.
    pub fn group_at(&self, i: usize) -> Option<GroupRef<'a>> {
        let at = self.record(self.s.group, self.s.group_count, GROUP_LEN, i)?;
        let name = self.string_ref(at)?;
        let first = u32_at(self.bytes, at + 12)?;
        let count = u32_at(self.bytes, at + 16)?;
        if first.checked_add(count)? > self.s.member_count {
            return None;
        }
        let mut h = fnv(
            fnv(FNV_OFFSET, self.bytes.get(at..at + 20)?),
            name.as_bytes(),
        );
        for i in first..first + count {
            h = fnv(h, self.member(i as usize)?.as_bytes());
        }
        if u32_at(self.bytes, at + 20)? != h as u32 {
            return None;
        }
        Some(GroupRef {
            name,
            gid: u32_at(self.bytes, at + 8)?,
            view: *self,
            first,
            count,
        })
    }

    /// A user's supplementary group ids, when the user is in the file.
    fn initgroups_at(&self, i: usize) -> Option<(&'a str, Vec<u32>)> {
        let at = self.record(self.s.init, self.s.init_count, INIT_LEN, i)?;
        let name = self.string_ref(at)?;
        let first = u32_at(self.bytes, at + 8)?;
        let count = u32_at(self.bytes, at + 12)?;
        if first.checked_add(count)? > self.s.gid_count {
            return None;
        }
        let mut h = fnv(
            fnv(FNV_OFFSET, self.bytes.get(at..at + 16)?),
            name.as_bytes(),
        );
        let mut gids = Vec::with_capacity(count as usize);
        for i in first..first + count {
            let gid = u32_at(self.bytes, self.s.gid as usize + 4 * i as usize)?;
            h = fnv(h, &gid.to_le_bytes());
            gids.push(gid);
        }
        (u32_at(self.bytes, at + 16)? == h as u32).then_some((name, gids))
    }

    /// Walks an index from the key's slot; `hit` decides on each candidate.
    fn probe<T>(
        &self,
        table: u32,
        count: u32,
        hash: u64,
        hit: impl Fn(usize) -> Option<T>,
    ) -> Option<T> {
        let slots = slots_for(count as usize);
        let mut slot = (hash as usize) & (slots - 1);
        // At most every slot once, whatever the table holds.
        for _ in 0..slots {
            let entry = u32_at(self.bytes, table as usize + 4 * slot)?;
            if entry == 0 {
                return None;
            }
            if let Some(found) = hit(entry as usize - 1) {
                return Some(found);
            }
            slot = (slot + 1) & (slots - 1);
        }
        None
    }

    pub fn passwd_by_name(&self, name: &str) -> Option<PasswdRef<'a>> {
        self.probe(
            self.s.pw_by_name,
            self.s.passwd_count,
            name_hash(name.as_bytes()),
            |i| self.passwd_at(i).filter(|p| p.name == name),
        )
    }

    pub fn passwd_by_uid(&self, uid: u32) -> Option<PasswdRef<'a>> {
        self.probe(self.s.pw_by_uid, self.s.passwd_count, id_hash(uid), |i| {
            self.passwd_at(i).filter(|p| p.uid == uid)
        })
    }

    pub fn group_by_name(&self, name: &str) -> Option<GroupRef<'a>> {
        self.probe(
            self.s.gr_by_name,
            self.s.group_count,
            name_hash(name.as_bytes()),
            |i| self.group_at(i).filter(|g| g.name == name),
        )
    }

    pub fn group_by_gid(&self, gid: u32) -> Option<GroupRef<'a>> {
        self.probe(self.s.gr_by_gid, self.s.group_count, id_hash(gid), |i| {
            self.group_at(i).filter(|g| g.gid == gid)
        })
    }

    /// initgroups for a user in the file; None: not in the file (ask the daemon).
    pub fn groups_of(&self, name: &str) -> Option<Vec<u32>> {
        self.probe(
            self.s.init_by_name,
            self.s.init_count,
            name_hash(name.as_bytes()),
            |i| {
                self.initgroups_at(i)
                    .filter(|(n, _)| *n == name)
                    .map(|(_, g)| g)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, id: u32) -> Passwd {
        Passwd {
            name: name.into(),
            uid: id,
            gid: id,
            gecos: format!("{name} gecos"),
            dir: format!("/home/{name}"),
            shell: "/bin/bash".into(),
        }
    }

    fn group(name: &str, gid: u32, members: &[&str]) -> Group {
        Group {
            name: name.into(),
            gid,
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn sample() -> Vec<u8> {
        let passwd = [user("alice", 200_000), user("bob", 200_001)];
        let groups = [
            group("physics", 200_005, &["alice", "bob"]),
            group("alice", 200_000, &[]),
        ];
        let init = [
            ("alice".to_owned(), vec![200_005]),
            ("bob".to_owned(), vec![200_005, 200_006]),
        ];
        encode(&Snapshot {
            generation: 7,
            expires: 1_000,
            passwd: &passwd,
            groups: &groups,
            initgroups: &init,
        })
        .unwrap()
    }

    #[test]
    fn every_lookup_finds_what_was_written_and_nothing_else() {
        let bytes = sample();
        let v = View::parse(&bytes).unwrap();
        let h = header(&bytes).unwrap();
        assert_eq!((h.generation, h.expires, h.state), (7, 1_000, STATE_LIVE));
        let alice = v.passwd_by_name("alice").unwrap();
        assert_eq!(alice.uid, 200_000);
        assert_eq!(alice.dir, "/home/alice");
        assert_eq!(alice.gecos, "alice gecos");
        assert_eq!(v.passwd_by_uid(200_001).unwrap().name, "bob");
        assert_eq!(v.passwd_by_name("Alice"), None, "exact names only");
        assert_eq!(v.passwd_by_name("carol"), None);
        assert_eq!(v.passwd_by_uid(0), None);
        let physics = v.group_by_name("physics").unwrap();
        assert_eq!(physics.gid, 200_005);
        assert_eq!(physics.members().collect::<Vec<_>>(), ["alice", "bob"]);
        assert_eq!(v.group_by_gid(200_000).unwrap().member_count(), 0);
        assert!(v.group_by_gid(1).is_none());
        assert_eq!(v.groups_of("bob"), Some(vec![200_005, 200_006]));
        assert_eq!(v.groups_of("root"), None);
        assert_eq!(v.passwd_count(), 2);
        assert_eq!(v.group_count(), 2);
        assert!(v.passwd_at(2).is_none());
    }

    #[test]
    fn an_empty_directory_is_a_valid_file() {
        let bytes = encode(&Snapshot {
            generation: 0,
            expires: 5,
            passwd: &[],
            groups: &[],
            initgroups: &[],
        })
        .unwrap();
        let v = View::parse(&bytes).unwrap();
        assert!(v.passwd_by_name("x").is_none());
        assert!(v.group_by_gid(0).is_none());
        assert!(v.groups_of("x").is_none());
    }

    #[test]
    fn a_damaged_header_is_refused() {
        let good = sample();
        let mut b = good.clone();
        b[0] ^= 1;
        assert_eq!(View::parse(&b).unwrap_err(), Invalid::Magic);
        let mut b = good.clone();
        b[8] = 9;
        assert!(matches!(View::parse(&b), Err(Invalid::Version(_))));
        let mut b = good.clone();
        b[24] ^= 1; // the expiry
        assert_eq!(View::parse(&b).unwrap_err(), Invalid::Checksum);
        assert_eq!(
            View::parse(&good[..good.len() - 1]).unwrap_err(),
            Invalid::Length
        );
        // The state word is outside the checksum: flipping it is how a file is
        // marked stale in place.
        let mut b = good.clone();
        b[STATE_OFFSET] = STATE_STALE as u8;
        assert_eq!(header(&b).unwrap().state, STATE_STALE);
    }

    #[test]
    fn a_flipped_byte_in_a_record_or_its_strings_loses_the_entry_not_the_truth() {
        let good = sample();
        let v = View::parse(&good).unwrap();
        let expected = v.passwd_by_name("alice").unwrap();
        for at in HEADER_LEN..good.len() {
            let mut b = good.clone();
            b[at] ^= 0x20;
            let Ok(v) = View::parse(&b) else { continue };
            // Whatever the damage, alice is either answered exactly or not at all.
            if let Some(p) = v.passwd_by_name("alice") {
                assert_eq!(p, expected, "byte {at}");
            }
            if let Some(p) = v.passwd_by_uid(200_000) {
                assert_eq!(p, expected, "byte {at}");
            }
            if let Some(g) = v.group_by_name("physics") {
                assert_eq!(
                    g.members().collect::<Vec<_>>(),
                    ["alice", "bob"],
                    "byte {at}"
                );
            }
            if let Some(g) = v.groups_of("bob") {
                assert_eq!(g, [200_005, 200_006], "byte {at}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn damaged_files_never_panic_nor_lie(
            damage in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8),
            reseal in proptest::bool::ANY,
        ) {
            let mut bytes = sample();
            for (at, value) in damage {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if reseal {
                // A damaged header with a valid checksum: the section checks decide.
                let sum = header_checksum(&bytes[..HEADER_LEN]);
                bytes[40..48].copy_from_slice(&sum.to_le_bytes());
            }
            if let Ok(v) = View::parse(&bytes) {
                if let Some(p) = v.passwd_by_name("alice") {
                    proptest::prop_assert_eq!(p.uid, 200_000);
                }
                let _ = v.passwd_by_uid(200_001);
                let _ = v.group_by_name("physics");
                let _ = v.group_by_gid(200_000);
                let _ = v.groups_of("alice");
                for i in 0..v.passwd_count().min(64) { let _ = v.passwd_at(i); }
                for i in 0..v.group_count().min(64) {
                    if let Some(g) = v.group_at(i) { let _ = g.members().count(); }
                }
            }
        }

        #[test]
        fn many_users_are_all_found(n in 0usize..300) {
            let passwd: Vec<Passwd> = (0..n).map(|i| user(&format!("u{i}"), 1000 + i as u32)).collect();
            let bytes = encode(&Snapshot { generation: 1, expires: 1, passwd: &passwd, groups: &[], initgroups: &[] }).unwrap();
            let v = View::parse(&bytes).unwrap();
            for p in &passwd {
                proptest::prop_assert_eq!(v.passwd_by_name(&p.name).map(|f| f.uid), Some(p.uid));
                proptest::prop_assert_eq!(v.passwd_by_uid(p.uid).map(|f| f.name), Some(p.name.as_str()));
            }
        }
    }
}
