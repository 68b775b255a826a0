//! HTTP paths from real traffic: the sniffer binary, a real mapper and the API server of
//! `holt-testenv`. Network namespaces `client`, `client2` and `server` on a bridge in `node` (where the
//! sniffer captures), `node` joined to the test's namespace (where the mapper listens). Deployments
//! `client`, `client2` and `server` have Pods at the namespaces' addresses.
//!
//! `client` talks HTTP/1.1 to the server's port 80 with a hand-written client over `std::net::TcpStream`
//! (`TCP_NODELAY`, one `write` per request unless said otherwise): three requests on one keep-alive
//! connection (`GET /orders/17`, `GET /orders/18`, `POST /charge`), a request whose request line is
//! split across two segments (`GET /inventory/it` + `ems/42 HTTP/1.1…`, two writes 100 ms apart), a
//! request with a query string (`GET /search?token=…`), an IPv6 request (`DELETE /orders/20/items`) and
//! bytes that are no request (`PING`). `client2` sends a TLS ClientHello to port 443 and no-HTTP
//! bytes to port 80. The mapper's export (`GET /v1/export?format=json`) must show `client` →
//! `server` with exactly the folded paths and methods, the split request as the prefix its first
//! segment gave, no query string anywhere; and `client2` → `server` with no `http` at all.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_testenv::{ControlPlane, deployment_with_pod_ips};
use serde_json::{Value, json};
use support::access::MapperAccess;
use support::netns::{Netns, bridged, uplink};
use support::servers::{http_server, tcp_server};

const TIMEOUT: Duration = Duration::from_secs(30);

const CLIENT: (&str, &str, &str) = ("client", "10.79.0.2", "fd79::2");
const CLIENT2: (&str, &str, &str) = ("client2", "10.79.0.4", "fd79::4");
const SERVER: (&str, &str, &str) = ("server", "10.79.0.3", "fd79::3");

/// A connection from inside `netns` to `address`, Nagle off (each write its own segment).
fn connect(netns: &Netns, address: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = netns.within(move || TcpStream::connect_timeout(&address, Duration::from_secs(5)))??;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

/// Writes each of `parts` (100 ms apart), then reads the `200 OK` response to the request they make.
fn exchange(stream: &mut TcpStream, parts: &[&str]) -> anyhow::Result<()> {
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        stream.write_all(part.as_bytes())?;
    }
    // The response head, then its empty body.
    let mut reader = BufReader::new(&*stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    ensure!(status.starts_with("HTTP/1.1 200"), "{parts:?}: {status:?}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line == "\r\n" {
            return Ok(());
        }
        ensure!(!line.is_empty(), "{parts:?}: the response ended early");
    }
}

/// `GET path` on the mapper with the reader's token; the body as JSON.
fn mapper_get(mapper: SocketAddr, token: &str, path: &str) -> anyhow::Result<Value> {
    let mut stream = TcpStream::connect_timeout(&mapper, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: mapper\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("no header end")?;
    ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}\n{body}");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("chunk size")?;
        let size = usize::from_str_radix(size.trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("chunk")?);
        body = rest.get(size + 2..).context("chunk end")?;
    }
}

/// The `targets` of `client`'s exported ClientIntents.
fn targets_of<'a>(export: &'a Value, client: &str) -> Option<&'a Value> {
    export
        .as_array()?
        .iter()
        .find(|object| object["metadata"]["name"] == client)
        .map(|object| &object["spec"]["targets"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_paths_of_real_requests_are_exported_folded_and_nothing_else() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let kube = plane.client().await?;
    let ns = plane.create_namespace(&kube, "http-paths").await?;
    for (name, v4, v6) in [CLIENT, CLIENT2, SERVER] {
        deployment_with_pod_ips(&kube, &ns, name, &[v4, v6]).await?;
    }

    let pid = std::process::id();
    let net = bridged(&format!("holt-http-{pid}"), &[CLIENT, CLIENT2, SERVER])?;
    let host_address = uplink(&net, &format!("hhttp{}", pid % 1_000_000), 234, (pid % 250) as u8)?;
    let server_ns = net.netns("server");
    let _http = http_server(server_ns.within(|| TcpListener::bind("[::]:80"))??);
    let _tls = tcp_server(server_ns.within(|| TcpListener::bind("[::]:443"))??);

    let access = MapperAccess::new(plane).await?;
    let state = tempfile::tempdir()?;
    let args = access.mapper_args(plane, &format!("{host_address}:0"), state.path())?;
    let mapper = holt_mapper::serve::Background::start(args).await?;
    let mapper_url = mapper.url();
    let mapper_address: SocketAddr = mapper_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .context("the mapper's address")?;
    let _sniffer = access.sniffer(&net.node, &mapper_url, "http-node", "127.0.0.1:9093", &[])?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let server_v4: SocketAddr = format!("{}:80", SERVER.1).parse()?;
    let server_v6: SocketAddr = format!("[{}]:80", SERVER.2).parse()?;
    let tls_v4: SocketAddr = format!("{}:443", SERVER.1).parse()?;
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let client = net.netns("client");
        // Keep-alive: three requests, each its own segment, on one connection.
        let mut kept = connect(client, server_v4)?;
        for (method, path) in [("GET", "/orders/17"), ("GET", "/orders/18"), ("POST", "/charge")] {
            let request = format!("{method} {path} HTTP/1.1\r\nhost: server\r\ncontent-length: 0\r\n\r\n");
            exchange(&mut kept, &[&request])?;
        }
        // The request line split across two segments.
        let mut split = connect(client, server_v4)?;
        exchange(
            &mut split,
            &["GET /inventory/it", "ems/42 HTTP/1.1\r\nhost: server\r\n\r\n"],
        )?;
        // A query string, which must never be stored.
        let mut query = connect(client, server_v4)?;
        exchange(
            &mut query,
            &["GET /search?token=s3cr3t&q=x HTTP/1.1\r\nhost: server\r\n\r\n"],
        )?;
        // Over IPv6, folded with everything after the ID.
        let mut v6 = connect(client, server_v6)?;
        exchange(
            &mut v6,
            &["DELETE /orders/20/items HTTP/1.1\r\nhost: server\r\n\r\n"],
        )?;
        // Bytes that are no request, on port 80.
        let mut junk = connect(client, server_v4)?;
        junk.write_all(b"PING\r\n\x00\x01\x02\r\n")?;
        exchange(&mut junk, &["\r\n"])?;

        // client2: a TLS ClientHello to 443, and bytes that are no request to 80.
        let client2 = net.netns("client2");
        let mut tls = connect(client2, tls_v4)?;
        let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03];
        hello.extend_from_slice(&[0x5a; 32]);
        hello.extend_from_slice(b"GET /not-http HTTP/1.1\r\n");
        tls.write_all(&hello)?;
        let mut other = connect(client2, server_v4)?;
        exchange(&mut other, &["HELLO server\r\n\r\n"])?;
        Ok(())
    })?;

    let query = format!("/v1/export?format=json&namespace={ns}");
    let expected_client = json!([{"kubernetes": {"name": "server", "kind": "Deployment", "http": [
        {"path": "/charge", "methods": ["POST"]},
        {"path": "/inventory/*", "methods": ["GET"]},
        {"path": "/orders/*", "methods": ["GET", "DELETE"]},
        {"path": "/search", "methods": ["GET"]},
    ]}}]);
    let expected_client2 = json!([{"kubernetes": {"name": "server", "kind": "Deployment"}}]);
    let deadline = Instant::now() + TIMEOUT;
    let export = loop {
        let export = tokio::task::block_in_place(|| mapper_get(mapper_address, &access.reader, &query))?;
        if targets_of(&export, "client") == Some(&expected_client)
            && targets_of(&export, "client2") == Some(&expected_client2)
        {
            break export;
        }
        if Instant::now() > deadline {
            bail!(
                "the export never showed the expected paths within {TIMEOUT:?}; last:\n{}",
                serde_json::to_string_pretty(&export)?
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = export.to_string();
    eprintln!("export: {text}");
    assert!(
        !text.contains("s3cr3t") && !text.contains('?'),
        "no query string is kept"
    );

    // The paths are in the intents API too, and the mapper counted what it received.
    let intents = tokio::task::block_in_place(|| {
        mapper_get(
            mapper_address,
            &access.reader,
            &format!("/v1/intents?namespace={ns}"),
        )
    })?;
    let paths: Vec<&str> = intents
        .as_array()
        .context("intents")?
        .iter()
        .filter(|intent| intent["client"]["name"] == "client")
        .flat_map(|intent| intent["target"]["http"].as_array().into_iter().flatten())
        .filter_map(|path| path["path"].as_str())
        .collect();
    assert_eq!(paths, ["/charge", "/inventory/*", "/orders/*", "/search"]);

    mapper.stop().await?;
    Ok(())
}
