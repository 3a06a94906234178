//! Packing entries into the caller's buffer, as glibc's `_r` interfaces require:
//! every string and pointer array the entry points to lives in that buffer, and a
//! buffer too small is reported (ERANGE) so glibc retries with a bigger one.

use libc::c_char;

pub struct TooSmall;

pub struct Buffer {
    start: *mut c_char,
    len: usize,
    used: usize,
}

impl Buffer {
    /// # Safety
    /// `start` must be valid for writes of `len` bytes for the Buffer's lifetime.
    pub unsafe fn new(start: *mut c_char, len: usize) -> Buffer {
        Buffer {
            start,
            len,
            used: 0,
        }
    }

    fn take(&mut self, size: usize, align: usize) -> Result<*mut u8, TooSmall> {
        let base = self.start as usize + self.used;
        let pad = (align - base % align) % align;
        let needed = pad.checked_add(size).ok_or(TooSmall)?;
        if self.len - self.used < needed {
            return Err(TooSmall);
        }
        self.used += needed;
        // SAFETY: base + pad is within the buffer, checked above.
        Ok(unsafe { self.start.add(self.used - size) }.cast())
    }

    /// Copies `s` with a terminating NUL (cut at an interior NUL, which C strings
    /// cannot carry; the store never hands one out).
    pub fn string(&mut self, s: &str) -> Result<*mut c_char, TooSmall> {
        let bytes = s.as_bytes();
        let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
        let at = self.take(bytes.len() + 1, 1)?;
        // SAFETY: `at` has room for len + 1 bytes (take checked it).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
            *at.add(bytes.len()) = 0;
        }
        Ok(at.cast())
    }

    /// A NULL-terminated array of strings (a group's members).
    pub fn string_array<'s>(
        &mut self,
        items: impl ExactSizeIterator<Item = &'s str>,
    ) -> Result<*mut *mut c_char, TooSmall> {
        let count = items.len();
        let size = std::mem::size_of::<*mut c_char>();
        let slots = count.checked_add(1).ok_or(TooSmall)?;
        let array: *mut *mut c_char = self
            .take(
                size.checked_mul(slots).ok_or(TooSmall)?,
                std::mem::align_of::<*mut c_char>(),
            )?
            .cast();
        // At most `count` items are written, whatever the iterator yields.
        let mut written = 0;
        for item in items.take(count) {
            let s = self.string(item)?;
            // SAFETY: the array has count + 1 slots and written < count.
            unsafe { *array.add(written) = s };
            written += 1;
        }
        // SAFETY: as above; written <= count.
        unsafe { *array.add(written) = std::ptr::null_mut() };
        Ok(array)
    }
}
