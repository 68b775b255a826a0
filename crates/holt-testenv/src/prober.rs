//! The connectivity prober: for a set of a [`crate::Dataplane`]'s pods (and outside hosts, any
//! [`Endpoint`]) and ports, every ordered pair (one and itself excepted) is tried on every port, from inside
//! the caller's network namespace — a TCP connect with a short timeout, or a UDP datagram that the called
//! one echoes — and the observed [`Reachability`] matrix comes back. Probes run in parallel on a few
//! threads, each entering the caller's namespace for its probe.
//!
//! Network policy implementations program the kernel asynchronously, so a check is a loop:
//! [`Prober::converge`] probes until the matrix equals the expected one (or a deadline passes, failing with
//! the grid of both and the cells that differ), and says how long that took; [`Prober::hold`] probes for a
//! while and fails as soon as the matrix differs (what "nothing is blocked" needs: a matrix that is right
//! now may change once the implementation catches up).

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::endpoint::Endpoint;
use crate::network_namespace::EnterHandle;
use crate::reachability::{Port, Probe, Protocol, Reachability, ReachabilityDiff};

/// How long a probe waits for a handshake or an echo: the pods share a bridge, so an answer takes well under
/// a millisecond, and a blocked probe usually fails at once (rejected).
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Threads probing at once.
const PARALLEL_PROBES: usize = 16;
/// Pause between two rounds of a loop.
const ROUND_PAUSE: Duration = Duration::from_millis(25);
/// What a UDP probe sends (and expects back).
const UDP_PAYLOAD: &[u8] = b"holt-testenv probe";

/// A check of a matrix that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The pods or ports asked for cannot be probed.
    #[error("prober: {0}")]
    Invalid(String),
    /// The matrix never equalled the expected one.
    #[error(
        "the reachability matrix did not converge within {waited:?} ({rounds} rounds); last round:\n{diff}"
    )]
    NotConverged {
        /// How long the prober tried.
        waited: Duration,
        /// How many rounds it probed.
        rounds: usize,
        /// Expected and last observed.
        diff: Box<ReachabilityDiff>,
    },
    /// The matrix differed from the expected one while it should have stayed equal.
    #[error("the reachability matrix changed {after:?} into a hold of {duration:?} (round {round}):\n{diff}")]
    Diverged {
        /// When, from the start of the hold.
        after: Duration,
        /// How long it should have held.
        duration: Duration,
        /// The round that differed.
        round: usize,
        /// Expected and observed.
        diff: Box<ReachabilityDiff>,
    },
    /// A probing round could not run.
    #[error("prober: a probing round failed: {0}")]
    Round(String),
}

/// How a [`Prober::converge`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converged {
    /// From the call until the first round that matched.
    pub elapsed: Duration,
    /// Rounds probed, the matching one included.
    pub rounds: usize,
}

#[derive(Debug, Clone)]
struct Caller {
    label: String,
    namespace: EnterHandle,
}

#[derive(Debug, Clone)]
struct Called {
    label: String,
    ip: Ipv4Addr,
}

/// Probes every ordered pair of a set of pods on a set of ports.
#[derive(Debug, Clone)]
pub struct Prober {
    callers: Vec<Caller>,
    called: Vec<Called>,
    ports: Vec<Port>,
    timeout: Duration,
}

impl Prober {
    /// A prober over `pods` and `ports`: pods ([`crate::DataplanePod`]), outside hosts
    /// ([`crate::OutsideHost`]) or their [`Endpoint`]s, mixed with `.endpoint()`. Each must listen on each
    /// port (it was created with them), so that a probe that fails was blocked, not unanswered; labels must
    /// be distinct.
    pub fn new<E: AsRef<Endpoint>>(pods: &[E], ports: &[Port]) -> Result<Self, ProbeError> {
        let pods: Vec<&Endpoint> = pods.iter().map(AsRef::as_ref).collect();
        if pods.len() < 2 || ports.is_empty() {
            return Err(ProbeError::Invalid(format!(
                "needs at least two pods and one port (got {} pods and {} ports)",
                pods.len(),
                ports.len()
            )));
        }
        for (index, pod) in pods.iter().enumerate() {
            if pods[..index].iter().any(|other| other.label() == pod.label()) {
                return Err(ProbeError::Invalid(format!(
                    "two pods are labelled {:?}: labels name the rows and columns of the matrix",
                    pod.label()
                )));
            }
            if let Some(port) = ports.iter().find(|port| !pod.ports().contains(port)) {
                return Err(ProbeError::Invalid(format!(
                    "pod {} does not listen on {port} (it listens on {:?}): a probe of it could not tell \
                     blocked from unanswered",
                    pod.label(),
                    pod.ports().iter().map(Port::to_string).collect::<Vec<_>>()
                )));
            }
        }
        Ok(Self {
            callers: pods
                .iter()
                .map(|pod| Caller {
                    label: pod.label().to_owned(),
                    namespace: pod.network.clone(),
                })
                .collect(),
            called: pods
                .iter()
                .map(|pod| Called {
                    label: pod.label().to_owned(),
                    ip: pod.ip(),
                })
                .collect(),
            ports: ports.to_vec(),
            timeout: PROBE_TIMEOUT,
        })
    }

    /// The same prober with another per-probe timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A matrix with every probe of this prober set to `reachable`: the start of an expectation.
    pub fn all(&self, reachable: bool) -> Reachability {
        let mut matrix = Reachability::new();
        for (caller, called, port) in self.plan() {
            matrix.set(&caller.label, &called.label, port, reachable);
        }
        matrix
    }

    /// Every probe of a round: (caller, called, port), a pod and itself excepted.
    fn plan(&self) -> Vec<(&Caller, &Called, Port)> {
        let mut plan = Vec::new();
        for caller in &self.callers {
            for called in self.called.iter().filter(|called| called.label != caller.label) {
                for port in &self.ports {
                    plan.push((caller, called, *port));
                }
            }
        }
        plan
    }

    /// One round: every probe once, in parallel; blocks until all have answered or timed out.
    pub fn probe(&self) -> Result<Reachability, ProbeError> {
        let plan = self.plan();
        let results: Mutex<Vec<Option<bool>>> = Mutex::new(vec![None; plan.len()]);
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<String>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_PROBES.min(plan.len()) {
                scope.spawn(|| {
                    // Which namespace this thread is in (it moves only when the next probe's caller differs).
                    let mut inside: Option<&str> = None;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some((caller, called, port)) = plan.get(index) else {
                            break;
                        };
                        if inside != Some(caller.namespace.name()) {
                            if let Err(error) = caller.namespace.enter() {
                                let mut failure = failure.lock().unwrap_or_else(|p| p.into_inner());
                                failure.get_or_insert(error.to_string());
                                break;
                            }
                            inside = Some(caller.namespace.name());
                        }
                        let reachable = attempt(called.ip, *port, self.timeout);
                        results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(reachable);
                    }
                });
            }
        });
        if let Some(failure) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(ProbeError::Round(failure));
        }
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut matrix = Reachability::new();
        for ((caller, called, port), reachable) in plan.iter().zip(results) {
            let Some(reachable) = reachable else {
                return Err(ProbeError::Round(format!(
                    "the probe {} was never run",
                    Probe {
                        from: caller.label.clone(),
                        to: called.label.clone(),
                        port: *port,
                    }
                )));
            };
            matrix.set(&caller.label, &called.label, *port, reachable);
        }
        Ok(matrix)
    }

    /// One round on a blocking thread, for async callers.
    async fn round(&self) -> Result<Reachability, ProbeError> {
        let prober = self.clone();
        tokio::task::spawn_blocking(move || prober.probe())
            .await
            .map_err(|e| ProbeError::Round(e.to_string()))?
    }

    /// Probes until the matrix equals `expected`; fails with both grids and the cells that differ when it
    /// does not within `timeout`. Says on standard error how long it took.
    pub async fn converge(
        &self,
        expected: &Reachability,
        timeout: Duration,
    ) -> Result<Converged, ProbeError> {
        let started = Instant::now();
        let mut rounds = 0;
        loop {
            let observed = self.round().await?;
            rounds += 1;
            if observed == *expected {
                let converged = Converged {
                    elapsed: started.elapsed(),
                    rounds,
                };
                let (reachable, blocked) = expected.counts();
                eprintln!(
                    "prober: the matrix ({reachable} reachable, {blocked} blocked) matched after {:.3} s \
                     ({rounds} rounds)",
                    converged.elapsed.as_secs_f64()
                );
                return Ok(converged);
            }
            if started.elapsed() >= timeout {
                return Err(ProbeError::NotConverged {
                    waited: started.elapsed(),
                    rounds,
                    diff: Box::new(ReachabilityDiff {
                        expected: expected.clone(),
                        observed,
                    }),
                });
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// Probes for `duration` and fails at the first round whose matrix differs from `expected`. Returns the
    /// number of rounds.
    pub async fn hold(&self, expected: &Reachability, duration: Duration) -> Result<usize, ProbeError> {
        let started = Instant::now();
        let mut rounds = 0;
        while started.elapsed() < duration {
            let observed = self.round().await?;
            rounds += 1;
            if observed != *expected {
                return Err(ProbeError::Diverged {
                    after: started.elapsed(),
                    duration,
                    round: rounds,
                    diff: Box::new(ReachabilityDiff {
                        expected: expected.clone(),
                        observed,
                    }),
                });
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
        eprintln!(
            "prober: the matrix held for {:.1} s ({rounds} rounds)",
            duration.as_secs_f64()
        );
        Ok(rounds)
    }
}

/// One probe from the calling thread's namespace: a TCP handshake, or a UDP datagram and its echo.
pub(crate) fn attempt(ip: Ipv4Addr, port: Port, timeout: Duration) -> bool {
    let address = SocketAddr::from((ip, port.number));
    match port.protocol {
        Protocol::Tcp => TcpStream::connect_timeout(&address, timeout).is_ok(),
        Protocol::Udp => udp_echo(address, timeout).unwrap_or(false),
    }
}

fn udp_echo(address: SocketAddr, timeout: Duration) -> std::io::Result<bool> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect(address)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.send(UDP_PAYLOAD)?;
    let mut buffer = [0u8; 64];
    let length = socket.recv(&mut buffer)?;
    Ok(&buffer[..length] == UDP_PAYLOAD)
}
