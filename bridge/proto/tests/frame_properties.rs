//! Properties of frame decoding on any input a peer could send (the same ones
//! `fuzz/fuzz_targets/frame.rs` checks without a bound): decoding never panics,
//! never makes an allocation beyond the frame limit, a `Request` costs no more
//! memory than the bytes that carried it, and a decoded `Request` re-encodes to
//! the same value.

use authbridge_proto::{
    AuthRequest, FrameError, MAX_FRAME, Request, Response, TwoFactorMode, VERSION, decode, encode,
    read_frame, write_frame,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts this thread's allocations, so a test can measure what one call allocates
/// (the test harness runs tests on several threads).
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    let _ = TOTAL.try_with(|t| t.set(t.get().saturating_add(size)));
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

/// What `f` returned, its largest single allocation, and the bytes it allocated in all.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    LARGEST.with(|l| l.set(0));
    TOTAL.with(|t| t.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get), TOTAL.with(Cell::get))
}

/// Bytes a peer could send, half of them with the right version byte so the
/// message decoder itself is exercised.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|mut v| {
            v.insert(0, VERSION);
            v
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,24}", "[a-z]{0,8}"]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (text(), text(), text(), proptest::option::of(text())).prop_map(
            |(service, user, password, rhost)| Request::Authenticate(AuthRequest {
                service,
                user,
                password: password.into(),
                rhost,
            })
        ),
        text().prop_map(|user| Request::Account { user }),
        (text(), text(), proptest::option::of(text())).prop_map(|(user, service, rhost)| {
            Request::OpenSession {
                user,
                service,
                rhost,
            }
        }),
        (text(), proptest::option::of(text()), text()).prop_map(|(user, old, new)| {
            Request::ChangePassword {
                user,
                old_password: old.map(Into::into),
                new_password: new.into(),
            }
        }),
        text().prop_map(|user| Request::PasswordOwner { user }),
        text().prop_map(Request::PasswdByName),
        any::<u32>().prop_map(Request::PasswdById),
        Just(Request::PasswdAll),
        text().prop_map(Request::GroupByName),
        any::<u32>().prop_map(Request::GroupById),
        Just(Request::GroupAll),
        text().prop_map(Request::GroupIdsOf),
        (
            text(),
            text(),
            proptest::option::of(any::<u32>()),
            prop_oneof![
                Just(TwoFactorMode::Optional),
                Just(TwoFactorMode::Required),
                Just(TwoFactorMode::Off)
            ]
        )
            .prop_map(|(user, password, real_uid, mode)| {
                Request::AuthenticateTwoStep {
                    request: AuthRequest {
                        service: "sshd".into(),
                        user,
                        password: password.into(),
                        rhost: None,
                    },
                    real_uid,
                    mode,
                }
            }),
        (any::<[u8; 32]>(), text()).prop_map(|(ticket, code)| Request::SecondFactor {
            ticket,
            code: code.into()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_any_body_never_panics_and_stays_within_the_frame_limit(body in body()) {
        let (request, largest, total) = measured(|| decode::<Request>(&body));
        prop_assert!(largest <= MAX_FRAME);
        // A request holds only strings and numbers: it never costs more memory
        // than the bytes that carried it.
        prop_assert!(total <= body.len(), "{total} bytes allocated for a {}-byte body", body.len());
        if let Ok(request) = request {
            let again = decode::<Request>(&encode(&request).unwrap()).unwrap();
            prop_assert_eq!(again, request);
        }
        let (response, largest, _) = measured(|| decode::<Response>(&body));
        prop_assert!(largest <= MAX_FRAME, "{largest}-byte allocation");
        if let Ok(response) = response {
            let again = decode::<Response>(&encode(&response).unwrap()).unwrap();
            prop_assert_eq!(again, response);
        }
    }

    #[test]
    fn every_request_survives_encode_write_read_decode(request in request()) {
        let mut wire = Vec::new();
        write_frame(&mut wire, &encode(&request).unwrap()).unwrap();
        let body = read_frame(&mut wire.as_slice()).unwrap();
        prop_assert_eq!(decode::<Request>(&body).unwrap(), request);
    }
}

proptest! {
    // Fewer cases: a prefix near the limit allocates (and zeroizes) 16 MiB, which
    // takes a quarter of a second unoptimised.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn read_frame_never_allocates_past_the_frame_limit_whatever_the_prefix(
        len in prop_oneof![
            10 => any::<u32>(),
            10 => 0u32..64,
            1 => (MAX_FRAME as u32 - 1)..=(MAX_FRAME as u32 + 1),
        ],
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut wire = len.to_be_bytes().to_vec();
        wire.extend_from_slice(&data);
        let (read, largest, _) = measured(|| read_frame(&mut wire.as_slice()));
        prop_assert!(largest <= MAX_FRAME, "{largest}-byte allocation");
        if len as usize > MAX_FRAME {
            prop_assert!(matches!(read, Err(FrameError::TooLarge(_))));
            prop_assert!(largest < 64, "refused only after allocating {largest} bytes");
        }
        match read {
            Ok(body) => {
                prop_assert_eq!(body.len(), len as usize);
                prop_assert_eq!(&body[..], &data[..len as usize]);
            }
            Err(FrameError::Io(_)) => prop_assert!(data.len() < len as usize),
            Err(FrameError::TooLarge(n)) => prop_assert!(n > MAX_FRAME),
            Err(other) => prop_assert!(false, "read_frame does not decode: {other}"),
        }
    }
}
