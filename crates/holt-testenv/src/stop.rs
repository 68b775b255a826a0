//! Stopping a component by its recorded PID (for detached environments), without killing a stranger
//! that reused the PID.

use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::process::{ProcessInfo, kill_group};

/// What [`stop`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was running and has been stopped (SIGTERM, then SIGKILL after the grace period).
    Stopped,
    /// It was not running any more.
    AlreadyGone,
    /// The PID now belongs to another program: left alone.
    PidReused,
}

/// Whether the process recorded in `info` still runs (same PID, same program, not a zombie).
pub fn is_running(info: &ProcessInfo) -> bool {
    matches!(state(info), State::Ours)
}

/// Stops the process group of the process recorded in `info`: SIGTERM, then SIGKILL if it is still
/// there after `grace`.
pub fn stop(info: &ProcessInfo, grace: Duration) -> Stopped {
    match state(info) {
        State::Gone => return Stopped::AlreadyGone,
        State::Other => return Stopped::PidReused,
        State::Ours => {}
    }
    kill_group(info.pid, Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !matches!(state(info), State::Ours) {
            return Stopped::Stopped;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    kill_group(info.pid, Signal::KILL);
    Stopped::Stopped
}

enum State {
    Ours,
    Other,
    Gone,
}

fn state(info: &ProcessInfo) -> State {
    let proc = format!("/proc/{}", info.pid);
    // A zombie is gone for our purposes (its parent, maybe init, has not reaped it yet).
    match std::fs::read_to_string(format!("{proc}/stat")) {
        Ok(stat)
            if stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) =>
        {
            return State::Gone;
        }
        Ok(_) => {}
        Err(_) => return State::Gone,
    }
    let Ok(cmdline) = std::fs::read(format!("{proc}/cmdline")) else {
        return State::Gone;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    if argv0 == info.program.as_os_str().as_encoded_bytes() {
        State::Ours
    } else {
        State::Other
    }
}
