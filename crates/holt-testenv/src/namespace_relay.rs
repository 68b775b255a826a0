//! A TCP relay into a network namespace: a listener on `127.0.0.1:<port>` inside the namespace whose
//! connections are carried to an address in the test's own namespace (the API server on the machine's
//! loopback). This is how a program running inside a [`crate::Dataplane`]'s node namespace (kube-router)
//! reaches the test API server without the namespace getting any link to the machine: no route out, no
//! address shared with the host.
//!
//! In: the namespace and the upstream address. Out: the port the relay listens on inside the namespace.
//! Plain threads (not the test's tokio runtime, which may end first): one accepts, two per connection copy
//! bytes. Dropping the relay stops the accept loop and shuts every open connection down, so no socket keeps
//! the namespace alive.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::dataplane_error::DataplaneError;
use crate::network_namespace::NetworkNamespace;

/// How often the accept loop looks at its stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// A running relay; stopped when dropped.
#[derive(Debug)]
pub(crate) struct NamespaceRelay {
    port: u16,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl NamespaceRelay {
    /// Listens on `127.0.0.1:0` inside `namespace` and relays every connection to `upstream`.
    pub(crate) fn start(namespace: &NetworkNamespace, upstream: SocketAddr) -> Result<Self, DataplaneError> {
        let listener = namespace
            .within(|| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?
            .map_err(DataplaneError::socket(
                "listen for the API server relay",
                namespace.name(),
            ))?;
        let port = listener
            .local_addr()
            .map_err(DataplaneError::socket("read the relay's port", namespace.name()))?
            .port();
        listener.set_nonblocking(true).map_err(DataplaneError::socket(
            "set up the relay's listener",
            namespace.name(),
        ))?;
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let accept = std::thread::spawn({
            let stop = stop.clone();
            let open = open.clone();
            move || accept_loop(listener, upstream, &stop, &open)
        });
        Ok(Self {
            port,
            stop,
            open,
            accept: Some(accept),
        })
    }

    /// The port on `127.0.0.1` inside the namespace.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for NamespaceRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for stream in open.iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, stop: &AtomicBool, open: &Mutex<Vec<TcpStream>>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((inside, _)) => {
                // The connection to the upstream is made from this thread, which never entered the
                // namespace: it is a connection of the test's own namespace.
                let Ok(outside) = TcpStream::connect(upstream) else {
                    let _ = inside.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = inside.set_nonblocking(false);
                relay(inside, outside, open);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Copies bytes both ways until either side closes, on two threads; keeps clones of both streams in
/// `open` so that the relay's drop can shut them down.
fn relay(inside: TcpStream, outside: TcpStream, open: &Mutex<Vec<TcpStream>>) {
    let clones = (inside.try_clone(), outside.try_clone());
    let (Ok(inside_reader), Ok(outside_reader)) = clones else {
        return;
    };
    {
        let mut open = open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget connections that have ended (both directions shut down) before adding these.
        open.retain(|stream| stream.peer_addr().is_ok());
        for stream in [&inside, &outside] {
            if let Ok(clone) = stream.try_clone() {
                open.push(clone);
            }
        }
    }
    std::thread::spawn(move || copy_then_close(inside_reader, outside));
    std::thread::spawn(move || copy_then_close(outside_reader, inside));
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
