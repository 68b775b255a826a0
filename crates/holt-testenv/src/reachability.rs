//! Reachability matrices: for every probe (from one pod to a port of another), whether the connection got
//! through. The prober ([`crate::Prober`]) observes one; a test writes the one it expects; the difference
//! reads as a grid, like the probe grid of the upstream Kubernetes network policy e2e suite, plus one line
//! per cell that differs.
//!
//! In: pod labels and ports. Out: the matrix, its grid, and the cells where two matrices differ. Pure: no
//! I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A transport protocol the prober speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// A TCP connect: reachable when the handshake completes.
    Tcp,
    /// A UDP datagram: reachable when the pod's echo comes back.
    Udp,
}

/// A port of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// The port number.
    pub number: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl Port {
    /// TCP port `number`.
    pub const fn tcp(number: u16) -> Self {
        Self {
            number,
            protocol: Protocol::Tcp,
        }
    }

    /// UDP port `number`.
    pub const fn udp(number: u16) -> Self {
        Self {
            number,
            protocol: Protocol::Udp,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        };
        write!(f, "{}/{protocol}", self.number)
    }
}

/// One cell: from a pod to a port of another pod (pods by their labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Probe {
    /// The calling pod.
    pub from: String,
    /// The called pod.
    pub to: String,
    /// The called port.
    pub port: Port,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}:{}", self.from, self.to, self.port)
    }
}

/// For each probe, whether it got through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reachability {
    cells: BTreeMap<Probe, bool>,
}

impl Reachability {
    /// An empty matrix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one cell.
    pub fn set(&mut self, from: &str, to: &str, port: Port, reachable: bool) {
        let probe = Probe {
            from: from.to_owned(),
            to: to.to_owned(),
            port,
        };
        self.cells.insert(probe, reachable);
    }

    /// The matrix with one cell set (for building an expectation in one expression).
    #[must_use]
    pub fn with(mut self, from: &str, to: &str, port: Port, reachable: bool) -> Self {
        self.set(from, to, port, reachable);
        self
    }

    /// The matrix with every probe from `from` to `to` (on any port) set to `reachable`.
    #[must_use]
    pub fn with_pair(mut self, from: &str, to: &str, reachable: bool) -> Self {
        for (probe, cell) in &mut self.cells {
            if probe.from == from && probe.to == to {
                *cell = reachable;
            }
        }
        self
    }

    /// One cell, if the matrix has it.
    pub fn get(&self, probe: &Probe) -> Option<bool> {
        self.cells.get(probe).copied()
    }

    /// Every cell.
    pub fn cells(&self) -> impl Iterator<Item = (&Probe, bool)> {
        self.cells.iter().map(|(probe, reachable)| (probe, *reachable))
    }

    /// How many cells are reachable and how many blocked.
    pub fn counts(&self) -> (usize, usize) {
        let reachable = self.cells.values().filter(|r| **r).count();
        (reachable, self.cells.len() - reachable)
    }

    /// The cells where `observed` differs from this (expected) matrix, including cells only one has.
    pub fn mismatches(&self, observed: &Reachability) -> Vec<Mismatch> {
        let probes: BTreeSet<&Probe> = self.cells.keys().chain(observed.cells.keys()).collect();
        probes
            .into_iter()
            .filter_map(|probe| {
                let expected = self.get(probe);
                let seen = observed.get(probe);
                (expected != seen).then(|| Mismatch {
                    probe: probe.clone(),
                    expected,
                    observed: seen,
                })
            })
            .collect()
    }

    /// The matrix as a grid: a row per calling pod, a column per called pod and port; `.` reachable, `X`
    /// blocked, blank where nothing was probed (a pod and itself).
    pub fn grid(&self) -> String {
        let rows: BTreeSet<&str> = self.cells.keys().map(|p| p.from.as_str()).collect();
        let columns: BTreeSet<(&str, Port)> = self.cells.keys().map(|p| (p.to.as_str(), p.port)).collect();
        let headers: Vec<String> = columns.iter().map(|(to, port)| format!("{to}:{port}")).collect();
        let first = rows
            .iter()
            .map(|r| r.len())
            .max()
            .unwrap_or(0)
            .max("from \\ to".len());
        let mut out = format!("{:<first$}", "from \\ to");
        for header in &headers {
            out.push_str("  ");
            out.push_str(header);
        }
        out.push('\n');
        for row in &rows {
            out.push_str(&format!("{row:<first$}"));
            for ((to, port), header) in columns.iter().zip(&headers) {
                let probe = Probe {
                    from: (*row).to_owned(),
                    to: (*to).to_owned(),
                    port: *port,
                };
                let mark = match self.get(&probe) {
                    Some(true) => ".",
                    Some(false) => "X",
                    None => " ",
                };
                out.push_str(&format!("  {mark:<width$}", width = header.len()));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out
    }
}

/// A cell where the observed matrix differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The probe.
    pub probe: Probe,
    /// What was expected (`None`: the expectation has no such cell).
    pub expected: Option<bool>,
    /// What was observed (`None`: it was not probed).
    pub observed: Option<bool>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |cell: Option<bool>| match cell {
            Some(true) => "reachable",
            Some(false) => "blocked",
            None => "not probed",
        };
        write!(
            f,
            "{}: expected {}, observed {}",
            self.probe,
            word(self.expected),
            word(self.observed)
        )
    }
}

/// Expected and observed side by side, with the cells that differ: what a failed check prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachabilityDiff {
    /// The expected matrix.
    pub expected: Reachability,
    /// The observed matrix.
    pub observed: Reachability,
}

impl fmt::Display for ReachabilityDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "expected (. reachable, X blocked):")?;
        write!(f, "{}", self.expected.grid())?;
        writeln!(f, "observed:")?;
        write!(f, "{}", self.observed.grid())?;
        writeln!(f, "differences:")?;
        for mismatch in self.expected.mismatches(&self.observed) {
            writeln!(f, "  {mismatch}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tutorial(client_other_reaches_server: bool) -> Reachability {
        let http = Port::tcp(80);
        let mut matrix = Reachability::new();
        for from in ["client", "client-other", "server"] {
            for to in ["client", "client-other", "server"] {
                if from != to {
                    matrix.set(from, to, http, true);
                }
            }
        }
        matrix.with("client-other", "server", http, client_other_reaches_server)
    }

    #[test]
    fn the_grid_has_a_row_per_caller_and_a_column_per_called_port() {
        assert_eq!(
            tutorial(false).grid(),
            "from \\ to     client:80/TCP  client-other:80/TCP  server:80/TCP\n\
             client                       .                    .\n\
             client-other  .                                   X\n\
             server        .              .\n"
        );
    }

    #[test]
    fn mismatches_name_each_cell_that_differs() {
        let expected = tutorial(false);
        let observed = tutorial(true);
        let mismatches = expected.mismatches(&observed);
        assert_eq!(mismatches.len(), 1);
        assert_eq!(
            mismatches[0].to_string(),
            "client-other -> server:80/TCP: expected blocked, observed reachable"
        );
        assert!(expected.mismatches(&expected).is_empty());
        let diff = ReachabilityDiff { expected, observed }.to_string();
        assert!(
            diff.ends_with(
                "differences:\n  client-other -> server:80/TCP: expected blocked, observed reachable\n"
            ),
            "{diff}"
        );
    }

    #[test]
    fn a_cell_only_one_matrix_has_is_a_mismatch() {
        let expected = Reachability::new().with("a", "b", Port::udp(53), true);
        let mismatches = expected.mismatches(&Reachability::new());
        assert_eq!(
            mismatches[0].to_string(),
            "a -> b:53/UDP: expected reachable, observed not probed"
        );
    }

    #[test]
    fn with_pair_sets_every_port_between_two_pods() {
        let matrix = Reachability::new()
            .with("a", "b", Port::tcp(80), true)
            .with("a", "b", Port::udp(53), true)
            .with("b", "a", Port::tcp(80), true)
            .with_pair("a", "b", false);
        assert_eq!(matrix.counts(), (1, 2));
    }
}
