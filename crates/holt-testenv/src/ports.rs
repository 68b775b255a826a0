//! Free TCP ports on 127.0.0.1.

use std::collections::HashSet;
use std::future::Future;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use crate::error::Error;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port on 127.0.0.1 for `component` that was free a moment ago and that this process has not handed
/// out before; an error names the component.
///
/// The kernel picks it (bind to port 0); between this call and the component binding it another process
/// could take it, which the component's start-up then reports as an error naming the port.
pub(crate) fn free_port(component: &'static str) -> Result<u16, Error> {
    unused_port().map_err(Error::io(component, "find a free port on", "127.0.0.1"))
}

fn unused_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    // Keep the listeners open while searching, so the kernel never offers the same port twice.
    let mut held = Vec::new();
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if handed_out.insert(port) {
            return Ok(port);
        }
        held.push(listener);
        if held.len() > 64 {
            return Err(std::io::Error::other("no free port found on 127.0.0.1"));
        }
    }
}

/// Runs `start` (which picks its own ports with [`free_port`]) again, up to three times in all, when the
/// component failed because another process took one of its ports in the meantime.
pub(crate) async fn with_fresh_ports<T, F, Fut>(mut start: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    loop {
        match start().await {
            Err(error) if attempt < 3 && error.is_port_clash() => attempt += 1,
            done => return done,
        }
    }
}
