//! The `holt-sniffer` command line: one typed struct, every flag with a long name and an environment
//! variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use holt_runtime::duration::parse_duration;
use holt_runtime::reference_env::{ReferenceVariable, Shape, parse_with_reference_env};

use crate::endpoint::Endpoint;

const CAPABILITIES: &str = "\
Capabilities: CAP_NET_RAW (the AF_PACKET capture socket; without it the sniffer exits), and, for the \
socket scan of other processes' /proc entries, CAP_SYS_PTRACE (to read /proc/<pid>/ns/net, \
/proc/<pid>/net/tcp{,6} and /proc/<pid>/environ of processes owned by other users) and CAP_DAC_READ_SEARCH. \
The DaemonSet runs with hostNetwork: true and mounts the host's /proc at /hostproc (--proc-root). \
Without --enable-socket-scan only CAP_NET_RAW is needed; with only the scan, no capture socket is opened.";

/// Node agent of the network mapper: captures DNS answers (A, AAAA through CNAME chains, IPv4 and IPv6)
/// and TCP connection attempts on the node's interfaces, scans /proc for established client sockets, and
/// reports them to the mapper every --report-interval.
#[derive(Debug, Clone, Parser)]
#[command(name = "holt-sniffer", version, about, after_long_help = CAPABILITIES)]
pub struct Args {
    /// Base URL of the network mapper; reports are POSTed to its path /v1/reports.
    #[arg(
        long,
        env = "HOLT_SNIFFER_MAPPER_URL",
        default_value = "http://otterize-network-mapper.otterize-system:9090"
    )]
    pub mapper_url: Endpoint,

    /// File holding the bearer token sent with every report (`Authorization: Bearer`): in the chart a
    /// ServiceAccount token projected with audience holt-mapper. Read again for every round of
    /// reports, so a rotated token is picked up. Without it reports carry no credential, which a
    /// mapper checking its callers refuses (401).
    #[arg(long, env = "HOLT_SNIFFER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// How often to report (and scan /proc), e.g. 1s, 500ms.
    #[arg(long, env = "HOLT_SNIFFER_REPORT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub report_interval: Duration,

    /// How long one report may take before it counts as failed.
    #[arg(long, env = "HOLT_SNIFFER_REPORT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub report_timeout: Duration,

    /// Capture DNS responses (UDP and TCP from port 53).
    #[arg(long, env = "HOLT_SNIFFER_ENABLE_DNS", default_value_t = true, action = ArgAction::Set)]
    pub enable_dns: bool,

    /// Capture TCP connection attempts (SYN without ACK).
    #[arg(long, env = "HOLT_SNIFFER_ENABLE_TCP", default_value_t = true, action = ArgAction::Set)]
    pub enable_tcp: bool,

    /// Capture TCP segments that begin with an HTTP/1.x request line and report its method and path
    /// (never headers, bodies or query strings).
    #[arg(long, env = "HOLT_SNIFFER_ENABLE_HTTP", default_value_t = true, action = ArgAction::Set)]
    pub enable_http: bool,

    /// Scan /proc for established client sockets every report interval (long-lived connections).
    #[arg(long, env = "HOLT_SNIFFER_ENABLE_SOCKET_SCAN", default_value_t = true, action = ArgAction::Set)]
    pub enable_socket_scan: bool,

    /// Where the host's /proc is mounted.
    #[arg(long, env = "HOLT_SNIFFER_PROC_ROOT", default_value = "/proc")]
    pub proc_root: PathBuf,

    /// The node's name, sent with every report (default: the kernel's host name).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// Capture on this interface only (default: all interfaces of the network namespace).
    #[arg(long, env = "HOLT_SNIFFER_INTERFACE")]
    pub interface: Option<String>,

    /// Address of the /healthz and /metrics server.
    #[arg(
        long,
        env = "HOLT_SNIFFER_HEALTH_BIND_ADDRESS",
        default_value = "0.0.0.0:9091"
    )]
    pub health_bind_address: SocketAddr,

    /// Distinct observations held between reports and while the mapper is unreachable; more are
    /// dropped and counted (report_drops).
    #[arg(long, env = "HOLT_SNIFFER_MAX_BATCH", default_value_t = 100_000)]
    pub max_batch: usize,

    /// Capture ring: bytes per block (a power of two, at least 64 KiB).
    #[arg(long, env = "HOLT_SNIFFER_RING_BLOCK_SIZE", default_value_t = 1 << 20)]
    pub ring_block_size: u32,

    /// Capture ring: number of blocks (ring memory = blocks × block size).
    #[arg(long, env = "HOLT_SNIFFER_RING_BLOCKS", default_value_t = 16)]
    pub ring_blocks: u32,

    #[command(flatten)]
    pub log: holt_runtime::LogArgs,
}

/// The reference's variables the sniffer reads (its sniffer's keys, `OTTERIZE_<KEY>`) where Holt has the
/// option; the flags and `HOLT_*` variables win (docs/sniffer.md, "Flags"). Its `OTTERIZE_MAPPER_API_URL`
/// is not read: it names the reference mapper's GraphQL endpoint, which Holt's sniffer does not post to.
pub const REFERENCE_ENV: [ReferenceVariable; 3] = [
    ReferenceVariable {
        variable: "OTTERIZE_ENABLE_DNS",
        flag: "enable-dns",
        holt_variable: "HOLT_SNIFFER_ENABLE_DNS",
        shape: Shape::Bool,
    },
    ReferenceVariable {
        variable: "OTTERIZE_ENABLE_TCP",
        flag: "enable-tcp",
        holt_variable: "HOLT_SNIFFER_ENABLE_TCP",
        shape: Shape::Bool,
    },
    ReferenceVariable {
        variable: "OTTERIZE_ENABLE_SOCKET_SCANNER",
        flag: "enable-socket-scan",
        holt_variable: "HOLT_SNIFFER_ENABLE_SOCKET_SCAN",
        shape: Shape::Bool,
    },
];

impl Args {
    /// The flags of `args`, with the reference's variables of [`REFERENCE_ENV`] that `lookup` finds read as
    /// the flags they stand for. Errors are clap's, printed (and exiting) as a flag's.
    pub fn parse_with_reference_env(
        args: impl IntoIterator<Item = std::ffi::OsString>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Args, clap::Error> {
        parse_with_reference_env(args, &REFERENCE_ENV, lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn every_flag_has_an_environment_variable() {
        for arg in Args::command().get_arguments() {
            if arg.get_id() == "help" || arg.get_id() == "version" {
                continue;
            }
            assert!(arg.get_long().is_some(), "{} has no long name", arg.get_id());
            assert!(
                arg.get_env().is_some(),
                "{} has no environment variable",
                arg.get_id()
            );
        }
    }

    #[test]
    fn defaults_follow_the_reference() {
        let args = Args::try_parse_from(["holt-sniffer"]).expect("defaults");
        assert_eq!(args.report_interval, Duration::from_secs(1));
        assert!(args.enable_dns && args.enable_tcp && args.enable_http && args.enable_socket_scan);
        assert_eq!(args.mapper_url.port, 9090);
        let args = Args::try_parse_from([
            "holt-sniffer",
            "--enable-tcp",
            "false",
            "--report-interval",
            "250ms",
        ])
        .expect("flags");
        assert!(!args.enable_tcp);
        assert_eq!(args.report_interval, Duration::from_millis(250));
    }

    #[test]
    fn the_references_switches_turn_capture_off_unless_a_flag_says_otherwise() {
        let env = [
            ("OTTERIZE_ENABLE_DNS", "false"),
            ("OTTERIZE_ENABLE_SOCKET_SCANNER", "false"),
        ];
        let lookup = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
        let args = Args::parse_with_reference_env(
            ["holt-sniffer", "--enable-socket-scan", "true"].map(Into::into),
            lookup,
        )
        .expect("parsed");
        assert!(!args.enable_dns && args.enable_tcp && args.enable_socket_scan);
        let command = Args::command();
        for entry in REFERENCE_ENV {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(entry.flag))
                .unwrap_or_else(|| panic!("no --{}", entry.flag));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(entry.holt_variable));
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let error = Args::try_parse_from(["holt-sniffer", "--report-interval", "0s"]).expect_err("zero");
        assert!(error.to_string().contains("more than zero"), "{error}");
        let error = Args::try_parse_from(["holt-sniffer", "--mapper-url", "https://m"]).expect_err("https");
        assert!(error.to_string().contains("must use http://"), "{error}");
    }
}
