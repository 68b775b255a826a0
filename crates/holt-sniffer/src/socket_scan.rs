//! The periodic scan for long-lived connections that started before the sniffer (or whose SYN it
//! missed). In: a proc root (`/proc`, or the host's `/proc` mounted at `/hostproc`). Out: the
//! established client-side TCP sockets of every network namespace, with the source's host name when
//! the namespace's processes agree on one.
//!
//! Each network namespace is read once (deduplicated by the inode of `/proc/<pid>/ns/net`) from
//! `/proc/<pid>/net/tcp` and `tcp6`. A socket counts when it is ESTABLISHED, neither end is loopback and
//! its local port is not a LISTEN port in that namespace (so it is the client side). The host name comes
//! from `HOSTNAME=` in `/proc/<pid>/environ` of the namespace's processes; when they disagree (the host's
//! own namespace) none is given. The table parser is pure and never panics; lines it cannot read are
//! counted.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// `TCP_ESTABLISHED` and `TCP_LISTEN` as `/proc/net/tcp` prints them.
const ESTABLISHED: u8 = 0x01;
const LISTEN: u8 = 0x0a;

/// One row of a `/proc/<pid>/net/tcp{,6}` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
}

/// Parses a `/proc/net/tcp` or `/proc/net/tcp6` table. Returns the sockets and the number of lines
/// (header excluded) that could not be parsed.
pub fn parse_tcp_table(text: &str) -> (Vec<TcpSocket>, usize) {
    let mut sockets = Vec::new();
    let mut malformed = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(socket) => sockets.push(socket),
            None => malformed += 1,
        }
    }
    (sockets, malformed)
}

/// `  0: 0100007F:0277 00000000:0000 0A 00000000:00000000 ...`
fn parse_line(line: &str) -> Option<TcpSocket> {
    let mut fields = line.split_whitespace();
    let slot = fields.next()?;
    if !slot.ends_with(':') {
        return None;
    }
    let local = parse_endpoint(fields.next()?)?;
    let remote = parse_endpoint(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    Some(TcpSocket { local, remote, state })
}

/// `0100007F:0277` (IPv4) or 32 hex digits and a port (IPv6). The kernel prints each 32-bit word of the
/// address as a native-endian integer, so its bytes in memory order are the address bytes.
fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = address.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes)).to_canonical()
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The client-side established connections among `sockets` (one namespace's tcp and tcp6 rows).
pub fn client_connections(sockets: &[TcpSocket]) -> Vec<(IpAddr, SocketAddr)> {
    let listening: HashSet<u16> = sockets
        .iter()
        .filter(|s| s.state == LISTEN)
        .map(|s| s.local.port())
        .collect();
    let mut out: Vec<(IpAddr, SocketAddr)> = sockets
        .iter()
        .filter(|s| s.state == ESTABLISHED)
        .filter(|s| !s.local.ip().is_loopback() && !s.remote.ip().is_loopback())
        .filter(|s| !listening.contains(&s.local.port()))
        .map(|s| (s.local.ip(), s.remote))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The value of `HOSTNAME=` in a NUL-separated `environ` file.
pub fn hostname_from_environ(environ: &[u8]) -> Option<String> {
    environ
        .split(|&b| b == 0)
        .find_map(|entry| entry.strip_prefix(b"HOSTNAME="))
        .filter(|value| !value.is_empty())
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(str::to_owned)
}

/// An established client connection found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedConnection {
    pub src: IpAddr,
    pub dst: SocketAddr,
    pub src_hostname: Option<String>,
}

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub connections: Vec<ScannedConnection>,
    /// Network namespaces read.
    pub namespaces: usize,
    /// Processes or tables that could not be read, plus table lines that could not be parsed.
    pub errors: u64,
}

/// One network namespace seen during a scan.
struct Namespace {
    /// Its client connections: (local address, remote endpoint).
    connections: Vec<(IpAddr, SocketAddr)>,
    /// The processes in it.
    pids: Vec<u32>,
}

/// Scans every process under `proc_root`.
pub fn scan(proc_root: &Path) -> Scan {
    let mut result = Scan::default();
    let Ok(entries) = fs::read_dir(proc_root) else {
        result.errors += 1;
        return result;
    };
    // netns inode → what it holds
    let mut namespaces: HashMap<String, Namespace> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let dir = entry.path();
        // The process may exit at any point: every read failing is normal and only counted.
        let Ok(link) = fs::read_link(dir.join("ns/net")) else {
            continue;
        };
        let inode = link.to_string_lossy().into_owned();
        if let Some(namespace) = namespaces.get_mut(&inode) {
            namespace.pids.push(pid);
            continue;
        }
        let mut sockets = Vec::new();
        for table in ["net/tcp", "net/tcp6"] {
            match fs::read_to_string(dir.join(table)) {
                Ok(text) => {
                    let (rows, malformed) = parse_tcp_table(&text);
                    sockets.extend(rows);
                    result.errors += malformed as u64;
                }
                // tcp6 is absent when IPv6 is disabled.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => result.errors += 1,
            }
        }
        namespaces.insert(
            inode,
            Namespace {
                connections: client_connections(&sockets),
                pids: vec![pid],
            },
        );
    }
    result.namespaces = namespaces.len();
    for Namespace { connections, pids } in namespaces.into_values() {
        if connections.is_empty() {
            continue;
        }
        let hostnames: BTreeSet<String> = pids
            .iter()
            .filter_map(|pid| fs::read(proc_root.join(pid.to_string()).join("environ")).ok())
            .filter_map(|environ| hostname_from_environ(&environ))
            .collect();
        let hostname = (hostnames.len() == 1)
            .then(|| hostnames.into_iter().next())
            .flatten();
        result
            .connections
            .extend(connections.into_iter().map(|(src, dst)| ScannedConnection {
                src,
                dst,
                src_hostname: hostname.clone(),
            }));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on a little-endian machine, as the kernel prints them.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21456 1 0000000000000000 100 0 0 10 0
   1: 0500000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21457 1 0000000000000000 100 0 0 10 0
   2: 0500000A:1F90 0900000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 21458 1 0000000000000000 20 4 30 10 -1
   3: 0500000A:A2C4 0700000A:01BB 01 00000000:00000000 02:000A7B2C 00000000  1000        0 21459 2 0000000000000000 20 4 30 10 -1
   4: 0100007F:B1F2 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000     0        0 21460 1 0000000000000000 20 4 30 10 -1
   5: 0500000A:A2C6 0700000A:01BB 06 00000000:00000000 03:00000F1A 00000000     0        0 0 3 0000000000000000
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 000000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 000080FD000000000000000005000000:C350 000080FD000000000000000007000000:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0000000000000000FFFF00000500000A:C351 0000000000000000FFFF00000700000A:0050 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: garbage
   4: 00000000000000000000000001000000:C352 00000000000000000000000001000000:0050 01 0 0 0 0 0 0 0
";

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    #[test]
    fn parses_ipv4_rows() {
        let (sockets, malformed) = parse_tcp_table(TCP);
        assert_eq!((sockets.len(), malformed), (6, 0));
        assert_eq!(sockets[0].local, addr("127.0.0.1:3306"));
        assert_eq!(sockets[0].state, LISTEN);
        assert_eq!(sockets[3].local, addr("10.0.0.5:41668"));
        assert_eq!(sockets[3].remote, addr("10.0.0.7:443"));
        assert_eq!(sockets[3].state, ESTABLISHED);
    }

    #[test]
    fn parses_ipv6_rows_and_counts_the_rest() {
        let (sockets, malformed) = parse_tcp_table(TCP6);
        // Row 0 has 33 hex digits: malformed, like row 3.
        assert_eq!((sockets.len(), malformed), (3, 2));
        assert_eq!(sockets[0].local, addr("[fd80::5]:50000"));
        assert_eq!(sockets[0].remote, addr("[fd80::7]:8080"));
        // IPv4-mapped addresses come out as IPv4.
        assert_eq!(sockets[1].remote, addr("10.0.0.7:80"));
        assert_eq!(sockets[2].local, addr("[::1]:50002"));
    }

    #[test]
    fn keeps_established_non_loopback_client_sockets() {
        let (mut sockets, _) = parse_tcp_table(TCP);
        sockets.extend(parse_tcp_table(TCP6).0);
        let clients = client_connections(&sockets);
        assert_eq!(
            clients,
            vec![
                ("10.0.0.5".parse().expect("ip"), addr("10.0.0.7:80")),
                ("10.0.0.5".parse().expect("ip"), addr("10.0.0.7:443")),
                ("fd80::5".parse().expect("ip"), addr("[fd80::7]:8080")),
            ],
            "row 2 is the server side of port 8080, row 4 is loopback, row 5 is TIME_WAIT"
        );
    }

    #[test]
    fn never_panics_on_odd_lines() {
        let odd = "header\n\n:\n 0:\n 0: :\n 0: ZZZZZZZZ:0050 0700000A:01BB 01\n 0: 0500000A:FFFFF 0700000A:01BB 01\n \
                   0: 0500000A:0050 0700000A:01BB 1FF\n 0: 0500000A: 0700000A:01BB 01\n é: é:é é:é é\n";
        let (sockets, malformed) = parse_tcp_table(odd);
        assert!(sockets.is_empty());
        assert_eq!(malformed, 8);
    }

    #[test]
    fn finds_the_host_name_in_environ() {
        assert_eq!(
            hostname_from_environ(b"PATH=/bin\0HOSTNAME=web-7d9f\0HOME=/\0"),
            Some("web-7d9f".to_owned())
        );
        assert_eq!(hostname_from_environ(b"PATH=/bin\0HOSTNAME=\0"), None);
        assert_eq!(hostname_from_environ(b"MYHOSTNAME=x\0"), None);
        assert_eq!(hostname_from_environ(b""), None);
    }

    #[test]
    fn scans_a_proc_tree() {
        let root = std::env::temp_dir().join(format!("holt-sniffer-scan-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (pid, netns, hostname) in [
            (10, "net:[1]", "web-1"),
            (11, "net:[1]", "web-1"),
            (12, "net:[2]", ""),
        ] {
            let dir = root.join(pid.to_string());
            fs::create_dir_all(dir.join("net")).expect("mkdir");
            fs::create_dir_all(dir.join("ns")).expect("mkdir");
            std::os::unix::fs::symlink(netns, dir.join("ns/net")).expect("symlink");
            fs::write(dir.join("net/tcp"), TCP).expect("write");
            fs::write(dir.join("environ"), format!("HOSTNAME={hostname}\0")).expect("write");
        }
        fs::create_dir_all(root.join("self")).expect("mkdir");
        let result = scan(&root);
        fs::remove_dir_all(&root).expect("cleanup");
        assert_eq!(result.namespaces, 2);
        assert_eq!(result.errors, 0);
        let named: Vec<_> = result
            .connections
            .iter()
            .filter(|c| c.src_hostname.as_deref() == Some("web-1"))
            .collect();
        assert_eq!(named.len(), 1, "{result:?}");
        assert_eq!(result.connections.len(), 2, "one per namespace: {result:?}");
    }
}
