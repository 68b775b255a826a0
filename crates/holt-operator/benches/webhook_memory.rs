//! The webhook's memory under large ConversionReviews, read from `/proc/<pid>/status` of real
//! `holt-operator` processes on a real kube-apiserver: idle baseline, then one 32 MB review (40,000
//! ClientIntents, `v1alpha3` to `v2beta1`), then eight at once (each sent again after a `429` as the API
//! server does); the peak while answering and the resident size 1 s, 5 s and 15 s after. Then the same with
//! reviews of 4,000 objects (3.3 MiB), sizes the allocator keeps when they are ordinary heap blocks.
//!
//! Also the in-process cost of converting each review (this build's `review_conversion`, no I/O).
//!
//! `cargo bench -p holt-operator --bench webhook_memory` measures this build's binary (release).
//! `HOLT_BENCH_OPERATORS=before=/path/to/old/holt-operator,after=/path/to/new/holt-operator` measures
//! several binaries one after the other in the same run, for a side-by-side table. Under `cargo test` it
//! runs the 4,000-object reviews only, as a test.

#[path = "../tests/support/operator_process.rs"]
mod operator_process;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use holt_testenv::{ControlPlane, ControlPlaneOptions};
use operator_process::{OBJECTS, OperatorProcess, PeakSampler, conversion_review};

struct Row {
    label: String,
    review_mib: f64,
    baseline: f64,
    one_time: Duration,
    one_peak: f64,
    one_after: [f64; 3],
    burst_time: Duration,
    burst_retries: usize,
    burst_peak: f64,
    burst_after: [f64; 3],
}

fn binaries() -> Vec<(String, PathBuf)> {
    match std::env::var("HOLT_BENCH_OPERATORS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|entry| {
                let (label, path) = entry
                    .split_once('=')
                    .expect("HOLT_BENCH_OPERATORS is label=path,label=path");
                (label.trim().to_owned(), PathBuf::from(path.trim()))
            })
            .collect(),
        _ => vec![(
            "this build".to_owned(),
            PathBuf::from(env!("CARGO_BIN_EXE_holt-operator")),
        )],
    }
}

/// The resident size 1 s, 5 s and 15 s after `from`.
async fn after(process: &OperatorProcess, from: Instant) -> [f64; 3] {
    let mut sizes = [0.0; 3];
    for (size, at) in sizes.iter_mut().zip([1, 5, 15]) {
        let when = from + Duration::from_secs(at);
        tokio::time::sleep_until(when.into()).await;
        *size = process.rss_mib();
    }
    sizes
}

fn ok(response: &operator_process::Response) {
    assert_eq!(response.status, 200, "{} {}", response.head, response.text());
    assert!(
        response.body.windows(20).any(|w| w == br#"{"status":"Success"}"#),
        "{}",
        response.text()
    );
}

async fn measure(plane: &ControlPlane, label: &str, binary: &std::path::Path, body: &[u8]) -> Row {
    let process = OperatorProcess::start(binary, plane, &[])
        .await
        .expect("operator");
    let baseline = process.settled_rss_mib().await;

    let sampler = PeakSampler::start(process.pid);
    let started = Instant::now();
    let response = process.post("/convert", body, "POST").await.expect("answer");
    let one_time = started.elapsed();
    let one_peak = sampler.finish();
    ok(&response);
    drop(response);
    let one_after = after(&process, Instant::now()).await;

    let sampler = PeakSampler::start(process.pid);
    let started = Instant::now();
    let answers = process.post_retrying_at_once("/convert", body, 8).await;
    let burst_time = started.elapsed();
    let burst_peak = sampler.finish();
    let mut burst_retries = 0;
    for answer in answers {
        let (response, retries) = answer.expect("answer");
        ok(&response);
        burst_retries += retries;
    }
    let burst_after = after(&process, Instant::now()).await;
    Row {
        label: label.to_owned(),
        review_mib: body.len() as f64 / (1024.0 * 1024.0),
        baseline,
        one_time,
        one_peak,
        one_after,
        burst_time,
        burst_retries,
        burst_peak,
        burst_after,
    }
}

/// The time `review_conversion` takes for `body`, best of three.
fn in_process(body: &[u8]) -> Duration {
    let bounds = holt_operator::webhook::ConversionBounds {
        max_object: usize::MAX,
        deadline: None,
    };
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let answer = holt_operator::webhook::review_conversion(body, &bounds).expect("answer");
            std::hint::black_box(answer.into_bytes());
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let plane = ControlPlane::start(ControlPlaneOptions::without_controller_manager())
            .await
            .expect("control plane");
        let full = std::env::args().any(|a| a == "--bench");
        let sizes = if full {
            vec![OBJECTS, OBJECTS / 10]
        } else {
            vec![OBJECTS / 10]
        };
        let mut rows = Vec::new();
        for objects in sizes {
            let body = conversion_review(objects);
            let took = in_process(&body);
            println!(
                "review of {objects} objects, {:.1} MiB: converted in process in {:.0} ms, {:.1} us per object",
                body.len() as f64 / (1024.0 * 1024.0),
                took.as_secs_f64() * 1e3,
                took.as_secs_f64() * 1e6 / objects as f64
            );
            for (label, binary) in binaries() {
                rows.push(measure(&plane, &label, &binary, &body).await);
            }
        }
        println!(
            "| binary | review | idle | one review: time | peak | after 1 s / 5 s / 15 s | eight at once: time (sent again) | peak | after 1 s / 5 s / 15 s |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for row in rows {
            println!(
                "| {} | {:.1} MiB | {:.0} MiB | {:.2} s | {:.0} MiB | {:.0} / {:.0} / {:.0} MiB | {:.2} s ({}) | {:.0} MiB | {:.0} / {:.0} / {:.0} MiB |",
                row.label,
                row.review_mib,
                row.baseline,
                row.one_time.as_secs_f64(),
                row.one_peak,
                row.one_after[0],
                row.one_after[1],
                row.one_after[2],
                row.burst_time.as_secs_f64(),
                row.burst_retries,
                row.burst_peak,
                row.burst_after[0],
                row.burst_after[1],
                row.burst_after[2],
            );
        }
    });
}
