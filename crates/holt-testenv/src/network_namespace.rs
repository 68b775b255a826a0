//! Named network namespaces (`ip netns add`), for the pods and the node of a [`crate::Dataplane`].
//!
//! In: a name (which carries this process's ID, so that parallel test processes never share one). Out: the
//! namespace with its loopback up, `ip -n <name>` and `ip netns exec <name>` commands for it, and a way to
//! make sockets inside it: a short-lived thread enters the namespace (`setns`), creates the socket and hands
//! it back — a socket belongs to the namespace it was created in for its whole life, whichever thread uses
//! it later. Dropping the value deletes the namespace; the kernel frees it (with every interface, iptables
//! rule and ipset in it) once the last socket and process in it are gone.

use std::fs::File;
use std::process::Command;

use crate::dataplane_error::DataplaneError;

/// A named network namespace, deleted when dropped.
#[derive(Debug)]
pub struct NetworkNamespace {
    name: String,
}

impl NetworkNamespace {
    /// Creates `name` with its loopback up.
    pub(crate) fn create(name: &str) -> Result<Self, DataplaneError> {
        run("ip", &["netns", "add", name])?;
        let namespace = Self {
            name: name.to_owned(),
        };
        namespace.ip(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// Its name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <name> <args>`, failing with its output.
    pub(crate) fn ip(&self, args: &[&str]) -> Result<String, DataplaneError> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec <name> <program>`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `program args...` inside the namespace and returns its standard output, failing with its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, DataplaneError> {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs `make` on a new thread that has entered the namespace, and returns what it made: sockets made
    /// there belong to the namespace.
    pub fn within<T, F>(&self, make: F) -> Result<T, DataplaneError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let entered = self.enter_handle()?;
        std::thread::spawn(move || entered.enter().map(|()| make()))
            .join()
            .map_err(|_| DataplaneError::Thread {
                namespace: self.name.clone(),
            })?
    }

    /// What a thread needs to enter the namespace (an open handle), for callers that run many threads.
    pub(crate) fn enter_handle(&self) -> Result<EnterHandle, DataplaneError> {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).map_err(|source| DataplaneError::Io {
            action: "open",
            path: path.clone().into(),
            source,
        })?;
        Ok(EnterHandle {
            name: self.name.clone(),
            file: std::sync::Arc::new(file),
        })
    }
}

impl Drop for NetworkNamespace {
    fn drop(&mut self) {
        // Best effort: the cleanup script registered with the watchdog deletes it too.
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// An open handle on a namespace that the current thread can enter.
#[derive(Debug, Clone)]
pub(crate) struct EnterHandle {
    name: String,
    file: std::sync::Arc<File>,
}

impl EnterHandle {
    /// Moves the calling thread into the namespace (for good: call it on a thread of its own).
    pub(crate) fn enter(&self) -> Result<(), DataplaneError> {
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&*self.file),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .map_err(|errno| DataplaneError::Enter {
            namespace: self.name.clone(),
            source: errno.into(),
        })
    }

    /// The namespace's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Connects `a` and `b` with a veth pair named `a_if` (in `a`) and `b_if` (in `b`), both up.
pub(crate) fn veth(
    a: &NetworkNamespace,
    a_if: &str,
    b: &NetworkNamespace,
    b_if: &str,
) -> Result<(), DataplaneError> {
    run(
        "ip",
        &[
            "link", "add", "name", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns",
            &b.name,
        ],
    )?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// Runs a command, failing with its output; returns its standard output.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, DataplaneError> {
    let line = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| DataplaneError::Command {
            command: line.clone(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(DataplaneError::Command {
            command: line,
            reason: format!(
                "{}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
