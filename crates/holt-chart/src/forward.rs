//! A Service's stand-in (what kube-proxy does for a ClusterIP): a listener per Service port on an address of
//! its own, each connection passed to a ready pod the Service selects, on the port its `targetPort` names.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::error::Error;

/// Where a connection to one Service port goes now: a ready backend, if any.
pub type Resolve = Arc<dyn Fn() -> Option<SocketAddr> + Send + Sync>;

/// Listens on `address` until dropped.
#[derive(Debug)]
pub struct Forwarder {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl Forwarder {
    pub async fn start(address: SocketAddr, resolve: Resolve) -> Result<Self, Error> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(Error::io(format!("listen on {address} for a Service")))?;
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some(backend) = resolve() else {
                    // No ready pod: the connection is refused, as kube-proxy rejects it.
                    drop(client);
                    continue;
                };
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Ok(Self { address, task })
    }

    pub fn ip(&self) -> IpAddr {
        self.address.ip()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
