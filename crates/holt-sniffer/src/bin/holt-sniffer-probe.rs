//! `holt-sniffer-probe`: makes the traffic the sniffer is meant to see, to check a sniffer end to end
//! (and used so by its tests). In: a DNS server, names to resolve, addresses to connect to. Out: for
//! each name an A and an AAAA query over UDP, or over TCP with `--dns-over-tcp` (the answers' record
//! counts are printed), then a TCP
//! connection to each `--connect` address; with `--hold`, the connections stay open until standard
//! input closes, so a socket scan can find them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

/// Resolves names through a DNS server and opens TCP connections, to generate sniffer traffic.
#[derive(Debug, Parser)]
#[command(name = "holt-sniffer-probe", version, about)]
struct Args {
    /// DNS server to query: an address and port, e.g. 10.0.0.53:53 (IPv6 in brackets).
    #[arg(long, env = "HOLT_PROBE_DNS_SERVER")]
    dns_server: Option<SocketAddr>,

    /// Query over TCP, one connection for all queries, instead of UDP.
    #[arg(long, env = "HOLT_PROBE_DNS_OVER_TCP")]
    dns_over_tcp: bool,

    /// Name to resolve (A and AAAA); repeatable.
    #[arg(long = "name", env = "HOLT_PROBE_NAMES", value_delimiter = ',')]
    names: Vec<String>,

    /// TCP address to connect to; repeatable.
    #[arg(long = "connect", env = "HOLT_PROBE_CONNECT", value_delimiter = ',')]
    connect: Vec<SocketAddr>,

    /// Keep the connections open until standard input is closed.
    #[arg(long, env = "HOLT_PROBE_HOLD")]
    hold: bool,

    /// How long to wait for each DNS answer or TCP connection.
    #[arg(long, env = "HOLT_PROBE_TIMEOUT_MS", default_value_t = 2000)]
    timeout_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let timeout = Duration::from_millis(args.timeout_ms);
    if !args.names.is_empty() {
        let server = args.dns_server.context("--name needs --dns-server")?;
        let mut resolver = Resolver::open(server, args.dns_over_tcp, timeout)?;
        for (n, name) in args.names.iter().enumerate() {
            for (qtype, label) in [(1u16, "A"), (28u16, "AAAA")] {
                let id = u16::try_from(n * 2).unwrap_or(0) + qtype;
                let answer = resolver
                    .ask(&query(id, name, qtype)?)
                    .with_context(|| format!("no {label} answer for {name} from {server}"))?;
                let answers = answer.get(6..8).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                println!("{name} {label}: {} bytes, {answers} records", answer.len());
            }
        }
    }
    let mut streams = Vec::new();
    for address in &args.connect {
        let stream = TcpStream::connect_timeout(address, timeout)
            .with_context(|| format!("connecting to {address}"))?;
        println!(
            "connected {} -> {address}",
            stream.local_addr().context("local address")?
        );
        streams.push(stream);
    }
    println!("ready");
    std::io::stdout().flush().context("stdout")?;
    if args.hold {
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
    }
    drop(streams);
    Ok(())
}

/// A DNS client socket.
enum Resolver {
    Udp(UdpSocket, SocketAddr),
    /// Each message behind a two-byte length.
    Tcp(TcpStream),
}

impl Resolver {
    fn open(server: SocketAddr, tcp: bool, timeout: Duration) -> anyhow::Result<Self> {
        if tcp {
            let stream = TcpStream::connect_timeout(&server, timeout)
                .with_context(|| format!("connecting to the DNS server {server}"))?;
            stream.set_read_timeout(Some(timeout)).context("socket timeout")?;
            return Ok(Self::Tcp(stream));
        }
        let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .context("bind address")?;
        let socket = UdpSocket::bind(bind).context("binding the DNS client socket")?;
        socket.set_read_timeout(Some(timeout)).context("socket timeout")?;
        Ok(Self::Udp(socket, server))
    }

    /// Sends `query` and returns the answer.
    fn ask(&mut self, query: &[u8]) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Udp(socket, server) => {
                socket.send_to(query, *server).context("sending the query")?;
                let mut answer = vec![0u8; 65_535];
                let (len, _) = socket.recv_from(&mut answer).context("receiving")?;
                answer.truncate(len);
                Ok(answer)
            }
            Self::Tcp(stream) => {
                let len = u16::try_from(query.len()).context("query too long")?;
                stream
                    .write_all(&[&len.to_be_bytes()[..], query].concat())
                    .context("sending the query")?;
                let mut prefix = [0u8; 2];
                stream.read_exact(&mut prefix).context("receiving the length")?;
                let mut answer = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                stream.read_exact(&mut answer).context("receiving the answer")?;
                Ok(answer)
            }
        }
    }
}

/// A standard recursive query for `name`.
fn query(id: u16, name: &str, qtype: u16) -> anyhow::Result<Vec<u8>> {
    let mut message = id.to_be_bytes().to_vec();
    message.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len()).ok().filter(|&l| l > 0 && l < 64);
        let Some(len) = len else {
            bail!("{name:?} has an empty or too long label");
        };
        message.push(len);
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&1u16.to_be_bytes());
    Ok(message)
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
    fn builds_queries() {
        let q = query(7, "a.bc", 28).expect("query");
        assert_eq!(q[..2], [0, 7]);
        assert_eq!(q[12..], [1, b'a', 2, b'b', b'c', 0, 0, 28, 0, 1]);
        assert!(query(1, "a..b", 1).is_err());
    }
}
