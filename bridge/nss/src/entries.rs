//! The `_nss_authbridge_*` entry points glibc looks up by name.

use authbridge_proto::{Group, Passwd, Request, Response};
use libc::{c_char, c_int, c_long, gid_t, size_t, uid_t};
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use authbridge_nsscache::{Mapping, PasswdRef};
use std::sync::Arc;

use crate::buffer::{Buffer, TooSmall};
use crate::{NssStatus, ask, memcache};

/// Runs an entry point; a panic becomes UNAVAIL instead of unwinding into C.
fn guarded(errnop: *mut c_int, f: impl FnOnce() -> (NssStatus, c_int)) -> NssStatus {
    let (status, errno) =
        catch_unwind(AssertUnwindSafe(f)).unwrap_or((NssStatus::Unavail, libc::EAGAIN));
    if !errnop.is_null() {
        // SAFETY: glibc passes a valid errno slot.
        unsafe { *errnop = errno };
    }
    status
}

/// The name glibc asks about, borrowed for the call (no allocation on a hit).
fn name_arg<'a>(name: *const c_char) -> Option<&'a str> {
    if name.is_null() {
        return None;
    }
    // SAFETY: glibc passes a NUL-terminated name that outlives the call.
    unsafe { CStr::from_ptr(name) }.to_str().ok()
}

const NOT_FOUND: (NssStatus, c_int) = (NssStatus::NotFound, libc::ENOENT);
const UNAVAIL: (NssStatus, c_int) = (NssStatus::Unavail, libc::ENOENT);
const TOO_SMALL: (NssStatus, c_int) = (NssStatus::TryAgain, libc::ERANGE);

fn borrowed(p: &Passwd) -> PasswdRef<'_> {
    PasswdRef {
        name: &p.name,
        uid: p.uid,
        gid: p.gid,
        gecos: &p.gecos,
        dir: &p.dir,
        shell: &p.shell,
    }
}

fn fill_passwd(p: PasswdRef<'_>, out: *mut libc::passwd, buf: &mut Buffer) -> Result<(), TooSmall> {
    let entry = libc::passwd {
        pw_name: buf.string(p.name)?,
        // "*", not "x": no shadow entry exists, and pam_unix's account check fails
        // for an "x" user whose shadow entry it cannot find (SSSD answers "*" too).
        pw_passwd: buf.string("*")?,
        pw_uid: p.uid,
        pw_gid: p.gid,
        pw_gecos: buf.string(p.gecos)?,
        pw_dir: buf.string(p.dir)?,
        pw_shell: buf.string(p.shell)?,
    };
    // SAFETY: glibc passes a valid passwd to fill.
    unsafe { out.write(entry) };
    Ok(())
}

fn fill_group<'s>(
    name: &str,
    gid: gid_t,
    members: impl ExactSizeIterator<Item = &'s str>,
    out: *mut libc::group,
    buf: &mut Buffer,
) -> Result<(), TooSmall> {
    let entry = libc::group {
        gr_name: buf.string(name)?,
        gr_passwd: buf.string("*")?,
        gr_gid: gid,
        gr_mem: buf.string_array(members)?,
    };
    // SAFETY: glibc passes a valid group to fill.
    unsafe { out.write(entry) };
    Ok(())
}

fn filled(result: Result<(), TooSmall>) -> (NssStatus, c_int) {
    match result {
        Ok(()) => (NssStatus::Success, 0),
        Err(TooSmall) => TOO_SMALL,
    }
}

/// A hit in the memory-mapped cache, filled; None: ask the daemon.
fn cached(
    fill: impl FnOnce(&Mapping) -> Option<Result<(), TooSmall>>,
) -> Option<(NssStatus, c_int)> {
    memcache::with(|mapping| fill(mapping)).map(filled)
}

fn fill_passwd_of(p: &Passwd, out: *mut libc::passwd, buf: &mut Buffer) -> Result<(), TooSmall> {
    fill_passwd(borrowed(p), out, buf)
}

fn fill_group_of(g: &Group, out: *mut libc::group, buf: &mut Buffer) -> Result<(), TooSmall> {
    fill_group(
        &g.name,
        g.gid,
        g.members.iter().map(String::as_str),
        out,
        buf,
    )
}

fn one<T>(
    response: Option<Response>,
    pick: impl FnOnce(Response) -> Option<Vec<T>>,
    fill: impl FnOnce(&T, &mut Buffer) -> Result<(), TooSmall>,
    buf: &mut Buffer,
) -> (NssStatus, c_int) {
    let Some(entries) = response.and_then(pick) else {
        return UNAVAIL;
    };
    match entries.first() {
        None => NOT_FOUND,
        Some(e) => match fill(e, buf) {
            Ok(()) => (NssStatus::Success, 0),
            Err(TooSmall) => TOO_SMALL,
        },
    }
}

fn passwds(r: Response) -> Option<Vec<Passwd>> {
    match r {
        Response::Passwd(v) => Some(v),
        _ => None,
    }
}

fn groups(r: Response) -> Option<Vec<Group>> {
    match r {
        Response::Group(v) => Some(v),
        _ => None,
    }
}

/// # Safety
/// Called by glibc with valid pointers, as for getpwnam_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getpwnam_r(
    name: *const c_char,
    result: *mut libc::passwd,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        let Some(name) = name_arg(name) else {
            return NOT_FOUND;
        };
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        if let Some(hit) = cached(|m| {
            let p = m.view().passwd_by_name(name)?;
            Some(fill_passwd(p, result, &mut buf))
        }) {
            return hit;
        }
        one(
            ask(&Request::PasswdByName(name.to_owned())),
            passwds,
            |p, b| fill_passwd_of(p, result, b),
            &mut buf,
        )
    })
}

/// # Safety
/// Called by glibc with valid pointers, as for getpwuid_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getpwuid_r(
    uid: uid_t,
    result: *mut libc::passwd,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        if let Some(hit) = cached(|m| {
            let p = m.view().passwd_by_uid(uid)?;
            Some(fill_passwd(p, result, &mut buf))
        }) {
            return hit;
        }
        one(
            ask(&Request::PasswdById(uid)),
            passwds,
            |p, b| fill_passwd_of(p, result, b),
            &mut buf,
        )
    })
}

/// # Safety
/// Called by glibc with valid pointers, as for getgrnam_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getgrnam_r(
    name: *const c_char,
    result: *mut libc::group,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        let Some(name) = name_arg(name) else {
            return NOT_FOUND;
        };
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        if let Some(hit) = cached(|m| {
            let g = m.view().group_by_name(name)?;
            Some(fill_group(g.name, g.gid, g.members(), result, &mut buf))
        }) {
            return hit;
        }
        one(
            ask(&Request::GroupByName(name.to_owned())),
            groups,
            |g, b| fill_group_of(g, result, b),
            &mut buf,
        )
    })
}

/// # Safety
/// Called by glibc with valid pointers, as for getgrgid_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getgrgid_r(
    gid: gid_t,
    result: *mut libc::group,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        if let Some(hit) = cached(|m| {
            let g = m.view().group_by_gid(gid)?;
            Some(fill_group(g.name, g.gid, g.members(), result, &mut buf))
        }) {
            return hit;
        }
        one(
            ask(&Request::GroupById(gid)),
            groups,
            |g, b| fill_group_of(g, result, b),
            &mut buf,
        )
    })
}

/// Where an enumeration reads from: the mapped cache file (which the cursor
/// keeps mapped until end*ent, so a republish mid-walk cannot tear it), or the
/// whole list fetched from the daemon at set*ent.
enum Source<T> {
    File(Arc<Mapping>),
    List(Vec<T>),
}

/// Enumeration state and the next index. glibc serialises set/get/end per
/// database; the mutex guards against the rest.
struct Cursor<T> {
    source: Option<Source<T>>,
    next: usize,
}

static PASSWD_CURSOR: Mutex<Cursor<Passwd>> = Mutex::new(Cursor {
    source: None,
    next: 0,
});
static GROUP_CURSOR: Mutex<Cursor<Group>> = Mutex::new(Cursor {
    source: None,
    next: 0,
});

fn lock<T>(m: &Mutex<Cursor<T>>) -> std::sync::MutexGuard<'_, Cursor<T>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The cache file when there is a live one, else the daemon's whole list.
fn open_source<T>(fetch: impl FnOnce() -> Option<Vec<T>>) -> Option<Source<T>> {
    match memcache::current() {
        Some(mapping) => Some(Source::File(mapping)),
        None => fetch().map(Source::List),
    }
}

fn set_ent<T>(cursor: &Mutex<Cursor<T>>, source: Option<Source<T>>) -> NssStatus {
    let mut c = lock(cursor);
    let status = if source.is_some() {
        NssStatus::Success
    } else {
        NssStatus::Unavail
    };
    *c = Cursor { source, next: 0 };
    status
}

/// One step of an enumeration. `from_file` fills entry `i` of the file (None:
/// past the end; an entry damaged in the file is skipped).
fn get_ent<T>(
    cursor: &Mutex<Cursor<T>>,
    fetch: impl FnOnce() -> Option<Vec<T>>,
    from_file: impl Fn(&Mapping, usize, &mut Buffer) -> Option<Option<Result<(), TooSmall>>>,
    fill: impl FnOnce(&T, &mut Buffer) -> Result<(), TooSmall>,
    buf: &mut Buffer,
) -> (NssStatus, c_int) {
    let mut c = lock(cursor);
    // getpwent without setpwent is allowed: start from the top.
    if c.source.is_none() {
        c.source = open_source(fetch);
        c.next = 0;
    }
    let next = c.next;
    let (result, step) = match &c.source {
        None => return UNAVAIL,
        Some(Source::List(entries)) => match entries.get(next) {
            None => return NOT_FOUND,
            Some(entry) => (fill(entry, buf), 1),
        },
        Some(Source::File(mapping)) => {
            let mut at = next;
            loop {
                match from_file(mapping, at, buf) {
                    None => return NOT_FOUND,
                    Some(None) => at += 1,
                    Some(Some(result)) => break (result, at + 1 - next),
                }
            }
        }
    };
    match result {
        // Only a filled entry moves on: after ERANGE glibc asks again, bigger.
        Ok(()) => {
            c.next += step;
            (NssStatus::Success, 0)
        }
        Err(TooSmall) => {
            // Skipped damaged entries stay skipped.
            c.next += step - 1;
            TOO_SMALL
        }
    }
}

fn fetch_passwds() -> Option<Vec<Passwd>> {
    ask(&Request::PasswdAll).and_then(passwds)
}

fn fetch_groups() -> Option<Vec<Group>> {
    ask(&Request::GroupAll).and_then(groups)
}

#[unsafe(no_mangle)]
pub extern "C" fn _nss_authbridge_setpwent(_stayopen: c_int) -> NssStatus {
    catch_unwind(|| set_ent(&PASSWD_CURSOR, open_source(fetch_passwds)))
        .unwrap_or(NssStatus::Unavail)
}

/// # Safety
/// Called by glibc with valid pointers, as for getpwent_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getpwent_r(
    result: *mut libc::passwd,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        get_ent(
            &PASSWD_CURSOR,
            fetch_passwds,
            |m, i, b| {
                let view = m.view();
                (i < view.passwd_count())
                    .then(|| view.passwd_at(i).map(|p| fill_passwd(p, result, b)))
            },
            |p, b| fill_passwd_of(p, result, b),
            &mut buf,
        )
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn _nss_authbridge_endpwent() -> NssStatus {
    catch_unwind(|| set_ent::<Passwd>(&PASSWD_CURSOR, None)).ok();
    NssStatus::Success
}

#[unsafe(no_mangle)]
pub extern "C" fn _nss_authbridge_setgrent(_stayopen: c_int) -> NssStatus {
    catch_unwind(|| set_ent(&GROUP_CURSOR, open_source(fetch_groups))).unwrap_or(NssStatus::Unavail)
}

/// # Safety
/// Called by glibc with valid pointers, as for getgrent_r.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_getgrent_r(
    result: *mut libc::group,
    buffer: *mut c_char,
    buflen: size_t,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        // SAFETY: glibc's buffer of buflen bytes.
        let mut buf = unsafe { Buffer::new(buffer, buflen) };
        get_ent(
            &GROUP_CURSOR,
            fetch_groups,
            |m, i, b| {
                let view = m.view();
                (i < view.group_count()).then(|| {
                    view.group_at(i)
                        .map(|g| fill_group(g.name, g.gid, g.members(), result, b))
                })
            },
            |g, b| fill_group_of(g, result, b),
            &mut buf,
        )
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn _nss_authbridge_endgrent() -> NssStatus {
    catch_unwind(|| set_ent::<Group>(&GROUP_CURSOR, None)).ok();
    NssStatus::Success
}

/// Adds the user's groups to glibc's growing array (initgroups, getgrouplist, id).
///
/// # Safety
/// Called by glibc with valid pointers, as for initgroups_dyn: `*groupsp` holds
/// `*size` entries of which `*start` are used, allocated with malloc.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _nss_authbridge_initgroups_dyn(
    user: *const c_char,
    skip_group: gid_t,
    start: *mut c_long,
    size: *mut c_long,
    groupsp: *mut *mut gid_t,
    limit: c_long,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        let Some(user) = name_arg(user) else {
            return NOT_FOUND;
        };
        let from_file = memcache::with(|m| m.view().groups_of(user));
        let gids = match from_file {
            Some(g) => g,
            None => match ask(&Request::GroupIdsOf(user.to_owned())) {
                Some(Response::GroupIds(g)) => g,
                _ => return UNAVAIL,
            },
        };
        for gid in gids.into_iter().filter(|&g| g != skip_group) {
            // SAFETY: glibc's pointers, valid for the call (see above).
            unsafe {
                let used = std::slice::from_raw_parts(*groupsp, *start as usize);
                if used.contains(&gid) {
                    continue;
                }
                if *start == *size {
                    if limit > 0 && *size >= limit {
                        break;
                    }
                    let mut bigger = (*size * 2).max(8);
                    if limit > 0 {
                        bigger = bigger.min(limit);
                    }
                    let grown = libc::realloc(
                        (*groupsp).cast(),
                        bigger as usize * std::mem::size_of::<gid_t>(),
                    )
                    .cast::<gid_t>();
                    if grown.is_null() {
                        return (NssStatus::TryAgain, libc::ENOMEM);
                    }
                    *groupsp = grown;
                    *size = bigger;
                }
                *(*groupsp).add(*start as usize) = gid;
                *start += 1;
            }
        }
        (NssStatus::Success, 0)
    })
}
