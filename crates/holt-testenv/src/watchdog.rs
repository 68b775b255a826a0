//! Kills every component of a test process when that process ends, however it ends.
//!
//! A `static` shared control plane is never dropped, and a panic with `panic = "abort"` or a signal skips
//! destructors too, so killing in `Drop` is not enough. On first use the harness starts a small `sh`
//! watchdog in its own process group whose stdin is a pipe that only this process holds. The harness
//! writes `add <pid>` / `del <pid>` lines as it starts and stops components, and `clean <script>` for a
//! cleanup script (the test node's). When the test process ends, the kernel closes the pipe, `read` sees
//! end of file, and the watchdog runs every cleanup script that still exists, kills the process group of
//! every PID still listed, then removes this process's scratch directory. No `unsafe` (no `prctl`) is
//! needed.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The watchdog: ignores Ctrl-C and hangups (it has its own process group anyway), collects PIDs until
/// its stdin closes, then kills their groups and removes the scratch directory given as `$1`.
const SCRIPT: &str = r#"trap '' INT HUP
pids=' '
while read -r op pid; do
  case $op in
    add) pids="$pids$pid " ;;
    del) pids=$(printf '%s' "$pids" | sed "s/ $pid / /") ;;
    clean) scripts="$scripts $pid" ;;
  esac
done
for script in $scripts; do [ -f "$script" ] && /bin/sh "$script"; done
for pid in $pids; do kill -9 "-$pid" 2>/dev/null; done
rm -rf "$1"
"#;

struct Watchdog {
    root: PathBuf,
    stdin: Mutex<ChildStdin>,
}

static WATCHDOG: OnceLock<Result<Watchdog, String>> = OnceLock::new();

fn watchdog() -> Result<&'static Watchdog, std::io::Error> {
    WATCHDOG
        .get_or_init(start)
        .as_ref()
        .map_err(|e| std::io::Error::other(e.clone()))
}

fn start() -> Result<Watchdog, String> {
    let root = std::env::temp_dir().join(format!("holt-testenv-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| format!("could not create the scratch directory {}: {e}", root.display()))?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("holt-testenv-watchdog")
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start the watchdog (/bin/sh): {e}"))?;
    let stdin = child.stdin.take().ok_or("the watchdog has no stdin pipe")?;
    // The watchdog outlives this process on purpose; nobody waits for it.
    drop(child);
    Ok(Watchdog {
        root,
        stdin: Mutex::new(stdin),
    })
}

fn send(line: &str) -> Result<(), std::io::Error> {
    let watchdog = watchdog()?;
    let mut stdin = watchdog
        .stdin
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    stdin.write_all(line.as_bytes())?;
    stdin.flush()
}

/// This test process's scratch directory (`$TMPDIR/holt-testenv-<pid>`), removed by the watchdog when
/// the process ends. Starts the watchdog if it is not running yet.
pub(crate) fn scratch_root() -> Result<&'static Path, std::io::Error> {
    Ok(&watchdog()?.root)
}

/// Has the watchdog kill `pid`'s process group when this process ends.
pub(crate) fn watch(pid: u32) -> Result<(), std::io::Error> {
    send(&format!("add {pid}\n"))
}

/// Has the watchdog run the shell script at `path` (if it still exists then) when this process ends,
/// before it kills the listed process groups. The path must not contain white space.
pub(crate) fn clean_up_with(path: &Path) -> Result<(), std::io::Error> {
    send(&format!("clean {}\n", path.display()))
}

/// Takes `pid` off the watchdog's list (it was stopped already).
pub(crate) fn forget(pid: u32) {
    // Only fails if the watchdog is gone, and then there is nothing to take the PID off.
    let _ = send(&format!("del {pid}\n"));
}
