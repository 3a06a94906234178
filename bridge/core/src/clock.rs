//! Wall-clock time as the store keeps it: unix seconds (and milliseconds for the
//! throttle, whose delays start at a fraction of a second). The one clock of the
//! workspace: the daemon, the CLI and the gate all read it here.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn now() -> i64 {
    now_ms() / 1000
}
