//! Logs (tracing) and metrics (Prometheus text at `/metrics`).
//!
//! Metrics the gateway exports:
//! - `o2a_requests_total{route,status}`: requests answered, by route and HTTP status.
//! - `o2a_request_duration_seconds{route}`: time from request to response head (for streams:
//!   time to the commit, i.e. to the first content).
//! - `o2a_upstream_attempts_total{channel,outcome}`: upstream calls, by channel and outcome
//!   (`ok` or the failure's code).

use crate::config::LogFormat;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Installs the log subscriber for the process. `level` is a tracing `EnvFilter` directive.
pub fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0])
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets every few seconds until `stop` changes.
/// The recorder keeps every sample until then: without it, memory grows with each request while
/// nobody scrapes `/metrics` (about 30 bytes a request, measured by the e2e bench).
pub fn spawn_upkeep(mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(handle) = metrics() else { return };
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => handle.run_upkeep(),
                _ = stop.changed() => return,
            }
        }
    })
}

pub fn record_request(route: &'static str, status: u16, elapsed: Duration) {
    metrics::counter!("o2a_requests_total", "route" => route, "status" => status_label(status)).increment(1);
    metrics::histogram!("o2a_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
}

pub fn record_attempt(channel: &'static str, outcome: &'static str) {
    metrics::counter!("o2a_upstream_attempts_total", "channel" => channel, "outcome" => outcome).increment(1);
}

/// A static label per status the gateway answers with; no allocation per request.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "other",
    }
}
