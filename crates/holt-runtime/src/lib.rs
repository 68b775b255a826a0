//! What Holt's binaries (operators, mapper, sniffer) and their long-running tasks share at run time, so that
//! each of these things is done one way:
//!
//! - [`Backoff`] / [`RetrySchedule`]: how long to wait after failures (exponential, capped, with jitter),
//!   for retry loops and for kube's watchers ([`Backoff::builder`]);
//! - [`LogArgs`] and [`logging::init`]: the `--log-format` flag and one `tracing` setup;
//! - [`shutdown::signal`]: SIGTERM or Ctrl-C;
//! - [`MetricsPage`]: a `/metrics` page in the Prometheus text format, written with `prometheus-client`,
//!   with the [`process`] figures (memory, CPU, file descriptors) every binary shows;
//! - [`probes::serve`]: `/healthz`, `/readyz` and `/metrics` over plain HTTP for the kubelet and Prometheus;
//! - [`leader`]: leader election with a `coordination.k8s.io/v1` Lease, for the controllers (intents and
//!   credentials operators) that must have one writer, and [`leader::run_leading`], how such a controller
//!   runs until it stops, loses the Lease or is told to;
//! - [`events::EventQueue`]: Kubernetes Events published without holding up their sender, bounded;
//! - [`duration::parse_duration`]: durations as every binary's flags take them;
//! - [`reference_env`]: the reference's `OTTERIZE_*` variables read as the flags they stand for.
//!
//! In: settings and figures from the binaries. Out: waits, an installed log subscriber, a future that
//! completes on shutdown, exposition text, a probe server, held leadership, published Events. Only
//! [`leader`] and [`events`] talk to the API server.

pub mod backoff;
pub mod duration;
pub mod events;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod probes;
pub mod process;
pub mod reference_env;
pub mod shutdown;

pub use backoff::{Backoff, RetrySchedule, WATCH_BACKOFF};
pub use logging::{LogArgs, LogFormat};
pub use metrics::MetricsPage;
