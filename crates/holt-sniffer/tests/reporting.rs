//! The reporter against mappers that refuse: its batch path (the shared batch, the backlog, the
//! reports) run in-process against small HTTP servers on loopback that answer as a mapper (or a proxy
//! in front of one) may: `413` with and without the limit header, `400`, `401` and `403`. No report
//! body is ever sent twice after a `413` or `400`; what a `413` refused arrives in smaller reports;
//! what a `400` refused is dropped and counted; what a `401` or `403` refused (the credential, not the
//! report) is kept and arrives once the token file holds an accepted token.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use holt_mapper_api::{MAX_REPORT_BYTES_HEADER, Report, SeenBy};
use holt_sniffer::reporter::{self, ReporterConfig};
use holt_sniffer::shared::Shared;
use holt_sniffer::tally::DropReason;
use tokio::sync::watch;

/// How the fake mapper answers a report body.
type Rule = Arc<dyn Fn(&[u8]) -> Response + Send + Sync>;

/// Every report body posted, in order, and the ones answered `2xx`.
#[derive(Default)]
struct Seen {
    bodies: Vec<Vec<u8>>,
    accepted: Vec<Report>,
}

async fn fake_mapper(limits: Option<u64>, rule: Rule) -> anyhow::Result<(SocketAddr, Arc<Mutex<Seen>>)> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let mut app = Router::new().route(
        holt_mapper_api::REPORTS_PATH,
        post(move |body: Bytes| {
            let (record, rule) = (record.clone(), rule.clone());
            async move {
                let response = rule(&body);
                let mut seen = record.lock().expect("seen");
                seen.bodies.push(body.to_vec());
                if response.status().is_success() {
                    seen.accepted
                        .push(serde_json::from_slice(&body).expect("a report"));
                }
                response
            }
        }),
    );
    if let Some(max_report_bytes) = limits {
        app = app.route(
            holt_mapper_api::LIMITS_PATH,
            get(move || async move { axum::Json(holt_mapper_api::Limits { max_report_bytes }) }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((address, seen))
}

/// The reporter over `shared`, posting to `address` every 50 ms, until the returned sender says stop.
fn reporter(shared: &Arc<Shared>, address: SocketAddr) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let config = ReporterConfig {
        endpoint: format!("http://{address}").parse().expect("endpoint"),
        node: "node-1".into(),
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        scan_proc_root: None,
        pending_capacity: 100_000,
        token_file: None,
    };
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(reporter::run(shared.clone(), config, stopped)))
}

fn connections(shared: &Shared, count: u16) {
    let mut state = shared.lock();
    for port in 0..count {
        state.batch.add_connection(
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
            port,
            SeenBy::Syn,
            None,
            1_000,
        );
    }
}

async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn delivered_ports(seen: &Seen) -> Vec<u16> {
    let mut ports: Vec<u16> = seen
        .accepted
        .iter()
        .flat_map(|report| report.connections.iter().map(|c| c.dst_port))
        .collect();
    ports.sort_unstable();
    ports
}

/// A mapper (or a proxy) that refuses bodies over `max` with `413`, saying its limit or not.
fn refusing_over(max: usize, announce: bool) -> Rule {
    Arc::new(move |body: &[u8]| {
        if body.len() > max {
            let mut response = (StatusCode::PAYLOAD_TOO_LARGE, "too large").into_response();
            if announce {
                response.headers_mut().insert(MAX_REPORT_BYTES_HEADER, max.into());
            }
            response
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
}

#[tokio::test]
async fn a_413_cuts_the_report_smaller_and_everything_arrives_once() -> anyhow::Result<()> {
    // With the limit in the answer (a mapper whose limit changed), and without (a proxy's limit).
    for announce in [true, false] {
        // The limits document says more than the server takes: only the 413 tells the truth.
        let (address, seen) = fake_mapper(Some(1 << 20), refusing_over(20_000, announce)).await?;
        let shared = Arc::new(Shared::new(100_000));
        connections(&shared, 2_000);
        let (stop, task) = reporter(&shared, address);
        until("every observation delivered", || {
            delivered_ports(&seen.lock().expect("seen")).len() >= 2_000
        })
        .await;
        let _ = stop.send(true);
        task.await?;
        let seen = seen.lock().expect("seen");
        assert_eq!(
            delivered_ports(&seen),
            (0..2_000).collect::<Vec<u16>>(),
            "each once"
        );
        // Reports without observations (the counters alone, every interval) may repeat.
        let mut bodies: Vec<&Vec<u8>> = seen
            .bodies
            .iter()
            .filter(|body| {
                serde_json::from_slice::<Report>(body).is_ok_and(|report| !report.connections.is_empty())
            })
            .collect();
        bodies.sort();
        let posted = bodies.len();
        bodies.dedup();
        assert_eq!(
            bodies.len(),
            posted,
            "no body was sent twice (announce: {announce})"
        );
        let refused = seen.bodies.iter().filter(|b| b.len() > 20_000).count();
        assert!(refused >= 1, "the first report was too large");
        let tally = shared.tally();
        assert_eq!(tally.reports_too_large, refused as u64);
        assert_eq!(tally.report_drops_total(), 0);
        eprintln!(
            "announce {announce}: {posted} reports posted, {refused} refused as too large, limit now {}",
            tally.max_report_bytes
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_rejected_report_is_dropped_counted_and_never_sent_again() -> anyhow::Result<()> {
    let rejecting: Rule = Arc::new(|body: &[u8]| {
        let report: Report = serde_json::from_slice(body).expect("a report");
        if report.connections.is_empty() {
            StatusCode::NO_CONTENT.into_response()
        } else {
            (StatusCode::BAD_REQUEST, "the report does not parse: invented").into_response()
        }
    });
    let (address, seen) = fake_mapper(None, rejecting).await?;
    let shared = Arc::new(Shared::new(100_000));
    connections(&shared, 10);
    let (stop, task) = reporter(&shared, address);
    // Several intervals: the reporter keeps reporting (empty reports, its counters).
    until("five reports", || seen.lock().expect("seen").bodies.len() >= 5).await;
    let _ = stop.send(true);
    task.await?;
    let seen = seen.lock().expect("seen");
    let with_observations = seen
        .bodies
        .iter()
        .filter(|body| {
            serde_json::from_slice::<Report>(body).is_ok_and(|report| !report.connections.is_empty())
        })
        .count();
    assert_eq!(with_observations, 1, "the rejected report was not sent again");
    let tally = shared.tally();
    assert_eq!(tally.report_drops.get(&DropReason::Rejected), Some(&10));
    assert_eq!(tally.reports_rejected, 1);
    let last: Report = serde_json::from_slice(seen.bodies.last().expect("a body"))?;
    assert_eq!(last.counters.report_drops, 10, "the mapper is told what was lost");
    assert!(
        tally
            .render_metrics()
            .contains("holt_sniffer_report_drops_total{reason=\"rejected\"} 10\n")
    );
    Ok(())
}

#[tokio::test]
async fn the_token_file_is_sent_and_reread_and_a_refused_credential_loses_nothing() -> anyhow::Result<()> {
    use axum::http::HeaderMap;

    // The fake mapper takes reports with `Authorization: Bearer good` once `open` is set; before,
    // that token is answered 403 (its owner lacks the verb), and any other 401.
    #[derive(Default)]
    struct Gate {
        open: bool,
        authorizations: Vec<Option<String>>,
        accepted: Vec<Report>,
    }
    let gate = Arc::new(Mutex::new(Gate::default()));
    let state = gate.clone();
    let app = Router::new()
        .route(
            holt_mapper_api::REPORTS_PATH,
            post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let authorization = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let mut gate = state.lock().expect("gate");
                    gate.authorizations.push(authorization.clone());
                    match authorization.as_deref() {
                        Some("Bearer good") if gate.open => {
                            gate.accepted
                                .push(serde_json::from_slice(&body).expect("a report"));
                            StatusCode::NO_CONTENT.into_response()
                        }
                        Some("Bearer good") => (StatusCode::FORBIDDEN, "may not report").into_response(),
                        _ => (StatusCode::UNAUTHORIZED, "the token is not accepted").into_response(),
                    }
                }
            }),
        )
        .route(
            holt_mapper_api::LIMITS_PATH,
            get(|| async {
                axum::Json(holt_mapper_api::Limits {
                    max_report_bytes: 1 << 20,
                })
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "stale\n")?;
    let shared = Arc::new(Shared::new(100_000));
    connections(&shared, 10);
    let config = ReporterConfig {
        endpoint: format!("http://{address}").parse()?,
        node: "node-1".into(),
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        scan_proc_root: None,
        pending_capacity: 100_000,
        token_file: Some(token_file.clone()),
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(reporter::run(shared.clone(), config, stopped));
    let refused = |token: &str| {
        let gate = gate.clone();
        let expected = format!("Bearer {token}");
        move || {
            gate.lock()
                .expect("gate")
                .authorizations
                .iter()
                .any(|a| a.as_deref() == Some(expected.as_str()))
        }
    };
    until("the stale token refused", refused("stale")).await;
    // The token rotates (the kubelet rewrites a projected token): the next attempt sends the new one.
    std::fs::write(&token_file, "good")?;
    until("the new token sent", refused("good")).await;
    assert!(gate.lock().expect("gate").accepted.is_empty());
    assert_eq!(
        shared.tally().report_drops_total(),
        0,
        "a refused credential drops nothing"
    );
    // Granted: the observations arrive, once.
    gate.lock().expect("gate").open = true;
    until("the observations delivered", || {
        gate.lock()
            .expect("gate")
            .accepted
            .iter()
            .map(|r| r.connections.len())
            .sum::<usize>()
            >= 10
    })
    .await;
    let _ = stop.send(true);
    task.await?;
    let gate = gate.lock().expect("gate");
    let mut ports: Vec<u16> = gate
        .accepted
        .iter()
        .flat_map(|r| r.connections.iter().map(|c| c.dst_port))
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, (0..10).collect::<Vec<u16>>(), "each once");
    let tally = shared.tally();
    assert_eq!(tally.report_drops_total(), 0);
    assert!(tally.reports_unauthorized >= 2, "{}", tally.reports_unauthorized);
    assert!(tally.render_metrics().contains(&format!(
        "holt_sniffer_reports_total{{result=\"unauthorized\"}} {}\n",
        tally.reports_unauthorized
    )));
    Ok(())
}
