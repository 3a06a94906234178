//! The few libpam calls pam-bindings does not wrap: setting PAM_AUTHTOK after a
//! prompt (its item types cannot be built from outside), and pam_syslog.

use libc::{c_char, c_int, c_void};
use pam::module::PamHandle;
use std::ffi::CString;

pub const PAM_AUTHTOK: c_int = 6;
pub const PAM_OLDAUTHTOK: c_int = 7;

unsafe extern "C" {
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
}

/// Stores a token for the modules below (use_first_pass); libpam copies it.
pub fn set_token(pamh: &mut PamHandle, item: c_int, token: &[u8]) -> bool {
    let Ok(c) = CString::new(token) else {
        return false;
    };
    let c = zeroize::Zeroizing::new(c.into_bytes_with_nul());
    // SAFETY: pamh is the live handle; c is NUL-terminated and outlives the call.
    unsafe { pam_set_item(pamh, item, c.as_ptr().cast()) == 0 }
}

pub fn log(pamh: &PamHandle, priority: c_int, message: &str) {
    let Ok(text) = CString::new(message.replace('\0', " ")) else {
        return;
    };
    // SAFETY: a "%s" format with one NUL-terminated string argument.
    unsafe { pam_syslog(pamh, priority, c"%s".as_ptr(), text.as_ptr()) };
}
