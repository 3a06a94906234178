//! The socket protocol from the daemon's side of the socket: whatever a peer
//! sends, `read_frame`, `decode::<Request>` and `decode::<Response>` never panic,
//! never make an allocation beyond `MAX_FRAME`, a `Request` costs no more memory
//! than the bytes that carried it, and a decoded message re-encodes and decodes
//! to the same value.
#![no_main]

use authbridge_proto::{MAX_FRAME, Request, Response, decode, encode, read_frame};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The largest single allocation and the bytes allocated in all since the last
/// reset (libFuzzer runs the target on one thread).
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

struct Tracking;

fn note(size: usize) {
    LARGEST.fetch_max(size, Relaxed);
    TOTAL.fetch_add(size, Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// What `f` returned, its largest single allocation, and what it allocated in all.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    LARGEST.store(0, Relaxed);
    TOTAL.store(0, Relaxed);
    let r = f();
    (r, LARGEST.load(Relaxed), TOTAL.load(Relaxed))
}

fn check_body(body: &[u8]) {
    let (request, largest, total) = measured(|| decode::<Request>(body));
    assert!(largest <= MAX_FRAME, "{largest}-byte allocation");
    assert!(
        total <= body.len(),
        "{total} bytes allocated for a {}-byte request",
        body.len()
    );
    if let Ok(request) = request {
        let again = decode::<Request>(&encode(&request).unwrap()).unwrap();
        assert_eq!(again, request);
    }
    let (response, largest, _) = measured(|| decode::<Response>(body));
    assert!(largest <= MAX_FRAME, "{largest}-byte allocation");
    if let Ok(response) = response {
        let again = decode::<Response>(&encode(&response).unwrap()).unwrap();
        assert_eq!(again, response);
    }
}

fuzz_target!(|data: &[u8]| {
    // The bytes as a frame body...
    check_body(data);
    // ...and as the stream a peer writes: length prefix, then the body.
    let (frame, largest, _) = measured(|| read_frame(&mut &data[..]));
    assert!(largest <= MAX_FRAME, "{largest}-byte allocation");
    if let Ok(body) = frame {
        let prefix = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        assert_eq!(body.len(), prefix);
        assert_eq!(&body[..], &data[4..4 + prefix]);
        check_body(&body);
    }
});
