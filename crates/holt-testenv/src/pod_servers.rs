//! What the prober dials: a listener inside a pod's network namespace for each of the pod's ports. TCP
//! accepts and closes every connection (a completed handshake is what "reachable" means); UDP echoes every
//! datagram back to its sender.
//!
//! In: the pod's namespace and a port. Out: a server on its own thread, stopped (its socket closed, so it
//! keeps no namespace alive) when dropped.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::dataplane_error::DataplaneError;
use crate::network_namespace::NetworkNamespace;
use crate::reachability::{Port, Protocol};

/// How often a server looks at its stop flag.
const POLL: Duration = Duration::from_millis(20);

/// A running server on one port of one pod.
#[derive(Debug)]
pub(crate) struct PodServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PodServer {
    /// Listens on `0.0.0.0:<port>` inside `namespace`.
    pub(crate) fn start(namespace: &NetworkNamespace, port: Port) -> Result<Self, DataplaneError> {
        let stop = Arc::new(AtomicBool::new(false));
        let address = (Ipv4Addr::UNSPECIFIED, port.number);
        let action = format!("listen on {port}");
        let thread = match port.protocol {
            Protocol::Tcp => {
                let listener = namespace
                    .within(move || TcpListener::bind(address))?
                    .map_err(DataplaneError::socket(&action, namespace.name()))?;
                listener
                    .set_nonblocking(true)
                    .map_err(DataplaneError::socket(&action, namespace.name()))?;
                let stop = stop.clone();
                std::thread::spawn(move || accept_and_close(&listener, &stop))
            }
            Protocol::Udp => {
                let socket = namespace
                    .within(move || UdpSocket::bind(address))?
                    .map_err(DataplaneError::socket(&action, namespace.name()))?;
                socket
                    .set_read_timeout(Some(POLL))
                    .map_err(DataplaneError::socket(&action, namespace.name()))?;
                let stop = stop.clone();
                std::thread::spawn(move || echo(&socket, &stop))
            }
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PodServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_and_close(listener: &TcpListener, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            // The handshake completed: that was the probe. Closing at once keeps the backlog empty.
            Ok((stream, _)) => drop(stream),
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn echo(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buffer = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((length, from)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(&buffer[..length], from);
        }
    }
}
