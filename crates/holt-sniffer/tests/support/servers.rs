//! The peers the sniffer watches and reports to, run as threads of the test: a tiny authoritative DNS
//! responder, a TCP server that accepts and holds connections, a tiny HTTP/1.1 server, and a collector of
//! posted reports.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use holt_mapper_api::Report;

/// What the DNS responder answers: a name's CNAME target, or its addresses.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub cnames: HashMap<String, String>,
    pub addresses: HashMap<String, Vec<IpAddr>>,
    /// Names whose responses are cut short in the middle of the last record.
    pub truncated: Vec<String>,
}

/// Stops and joins its thread on drop.
#[derive(Debug)]
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn spawn(f: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        Self {
            stop,
            thread: Some(std::thread::spawn(move || f(flag))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers A and AAAA queries from `zone` on `socket`, following CNAMEs (each chain link is an answer
/// record, with compression pointers to earlier names).
pub fn dns_responder(socket: UdpSocket, zone: Zone) -> Running {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    Running::spawn(move |stop| {
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            if let Some(answer) = answer(&buf[..len], &zone) {
                let _ = socket.send_to(&answer, from);
            }
        }
    })
}

/// Answers queries from `zone` over TCP, one connection at a time. Each answer is written in two halves
/// 200 ms apart, so that it crosses the wire in at least two segments.
pub fn dns_tcp_responder(listener: TcpListener, zone: Zone) -> Running {
    listener.set_nonblocking(true).expect("nonblocking");
    Running::spawn(move |stop| {
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut prefix = [0u8; 2];
            while stream.read_exact(&mut prefix).is_ok() {
                let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                if stream.read_exact(&mut query).is_err() {
                    break;
                }
                let Some(answer) = answer(&query, &zone) else {
                    break;
                };
                let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&answer);
                let (first, second) = framed.split_at(framed.len() / 2);
                let sent = stream.write_all(first).and_then(|()| {
                    std::thread::sleep(Duration::from_millis(200));
                    stream.write_all(second)
                });
                if sent.is_err() {
                    break;
                }
            }
        }
    })
}

fn answer(query: &[u8], zone: &Zone) -> Option<Vec<u8>> {
    // Question name, then QTYPE and QCLASS.
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(
            std::str::from_utf8(query.get(pos..pos + len)?)
                .ok()?
                .to_ascii_lowercase(),
        );
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question = query.get(12..pos + 4)?;
    let mut name = labels.join(".");
    let mut records: Vec<u8> = Vec::new();
    let mut count = 0u16;
    // Offset of the current owner name in the response (the question starts at 12).
    let mut owner = 12u16;
    for _ in 0..8 {
        if let Some(target) = zone.cnames.get(&name) {
            records.extend_from_slice(&(0xc000 | owner).to_be_bytes());
            records.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60]);
            let rdata: Vec<u8> = target
                .split('.')
                .flat_map(|l| std::iter::once(l.len() as u8).chain(l.bytes()))
                .chain(std::iter::once(0))
                .collect();
            records.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            owner = (12 + question.len() + records.len()) as u16;
            records.extend_from_slice(&rdata);
            count += 1;
            name = target.clone();
            continue;
        }
        for address in zone.addresses.get(&name).into_iter().flatten() {
            let (rtype, bytes) = match address {
                IpAddr::V4(v4) if qtype == 1 => (1u16, v4.octets().to_vec()),
                IpAddr::V6(v6) if qtype == 28 => (28u16, v6.octets().to_vec()),
                _ => continue,
            };
            records.extend_from_slice(&(0xc000 | owner).to_be_bytes());
            records.extend_from_slice(&rtype.to_be_bytes());
            records.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
            records.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            records.extend_from_slice(&bytes);
            count += 1;
        }
        break;
    }
    let mut response = query.get(..2)?.to_vec();
    // QR, AA, RD, RA; NOERROR; one question.
    response.extend_from_slice(&[0x85, 0x80, 0, 1]);
    response.extend_from_slice(&count.to_be_bytes());
    response.extend_from_slice(&[0, 0, 0, 0]);
    response.extend_from_slice(question);
    response.extend_from_slice(&records);
    if zone.truncated.contains(&labels.join(".")) {
        response.truncate(response.len() - 3);
    }
    Some(response)
}

/// Accepts connections on `listener` and keeps them open until dropped.
pub fn tcp_server(listener: TcpListener) -> Running {
    listener.set_nonblocking(true).expect("nonblocking");
    Running::spawn(move |stop| {
        let mut held = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    })
}

/// A tiny HTTP/1.1 server: on each connection (a thread each), reads requests (the request line and
/// headers up to the empty line; no bodies) and answers each `200 OK` with an empty body, keeping the
/// connection open for the next (keep-alive) until the client closes it. Bytes that are no request are
/// read line by line and answered the same way, as long as they come.
pub fn http_server(listener: TcpListener) -> Running {
    listener.set_nonblocking(true).expect("nonblocking");
    Running::spawn(move |stop| {
        while !stop.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            std::thread::spawn(move || {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == b"\r\n" => {
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if writer.write_all(ok).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    })
}

/// The reports received so far.
pub type Reports = Arc<Mutex<Vec<Report>>>;

/// A minimal HTTP/1.1 server that stores every JSON report POSTed to it and answers 204, and answers
/// `GET /v1/limits` with the mapper's default limits.
pub fn report_collector(listener: TcpListener) -> (Running, Reports) {
    listener.set_nonblocking(true).expect("nonblocking");
    let reports: Reports = Arc::default();
    let store = reports.clone();
    let running = Running::spawn(move |stop| {
        while !stop.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let mut length = 0usize;
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if request_line.starts_with("GET /v1/limits ") {
                let limits = format!(
                    "{{\"maxReportBytes\":{}}}",
                    holt_mapper_api::DEFAULT_MAX_REPORT_BYTES
                );
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{limits}",
                    limits.len()
                );
                continue;
            }
            let ok = reader.read_exact(&mut body).is_ok() && request_line.starts_with("POST /v1/reports ");
            let status = match serde_json::from_slice::<Report>(&body) {
                Ok(report) if ok => {
                    store.lock().expect("reports").push(report);
                    "204 No Content"
                }
                _ => "400 Bad Request",
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (running, reports)
}

/// `GET path` over a plain TCP connection; returns the body.
pub fn http_get(address: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: sniffer\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP header end in {response:?}"))?;
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    Ok(body.to_owned())
}
