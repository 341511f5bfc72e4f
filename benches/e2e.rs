//! End-to-end: load generator → gateway → mock upstream on loopback, against the same load sent
//! straight to the mock, as `design.md` (Performance) describes.
//!
//! The bench starts two processes of the `orchids2api` binary: the OpenAI mock (`mock openai
//! --no-record`, scenario `bench`, which answers as fast as it can) and the gateway (a temporary
//! TOML config: one API key, one `openai` account whose `base_url` is the mock, one model `bench`
//! served upstream as `mock-bench`). The load generator is this process: a current-thread tokio
//! runtime driving hyper HTTP/1.1 client connections, kept alive, one per concurrent client.
//! When `taskset` is there, the gateway runs on CPU 0 and the mock and the load generator on CPU 1
//! (`E2E_PIN=same` puts all three on CPU 1, `E2E_PIN=none` leaves them to the scheduler); the
//! output says which.
//!
//! Scenarios, all `POST /v1/chat/completions` with a one-message request:
//!
//! - `latency`: concurrency 1, non-stream: p50 and p99 of the whole exchange (request written to
//!   last body byte read), direct vs via the gateway, and the difference (added latency);
//! - `throughput`: concurrency `E2E_CONCURRENCY` (default 32), non-stream: requests per second,
//!   direct vs via the gateway, and their ratio;
//! - `ttfb`: concurrency 1, `"stream": true`: time from the request to the first body chunk
//!   carrying content (a `"content":"…"` that is not empty), direct vs via the gateway.
//!
//! The two legs are not the same work: the gateway always streams from its upstream, so for a
//! non-stream client the mock answers the gateway with an SSE stream (role chunk, one delta,
//! finish chunk, usage chunk, `[DONE]`) that the gateway gathers into one JSON answer, while the
//! direct baseline gets the mock's plain JSON answer.
//!
//! Each measurement runs `E2E_SECONDS` (default 3) split in two halves, direct and gateway
//! alternating (direct, gateway, direct, gateway), each half after a short warm-up, so that a
//! burst of noise from elsewhere on the machine hits both legs alike. The whole bench takes about
//! `6 × E2E_SECONDS` plus start-up. Run as a test (`cargo test --benches`, no `--bench` argument)
//! it does a smoke run of a fraction of a second per measurement and checks only that requests
//! succeed.
//!
//! The child processes are killed when the bench ends or panics (a guard's `Drop`); a bench that
//! is itself killed with SIGKILL leaves them running.

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The gateway's client API key, and the key the gateway's account sends the mock.
const CLIENT_KEY: &str = "sk-bench-client";
const UPSTREAM_KEY: &str = "sk-bench-upstream";

/// What one run measures, from the arguments and `E2E_*` variables.
struct Settings {
    /// A real run (`--bench`), or a smoke run under `cargo test`.
    bench: bool,
    seconds: f64,
    concurrency: usize,
    pin: Pin,
    /// CPUs this process may run on, before it pins itself.
    cpus: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let bench = std::env::args().any(|a| a == "--bench");
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let seconds = var("E2E_SECONDS")
            .map(|v| v.parse::<f64>().expect("E2E_SECONDS is a number of seconds"))
            .unwrap_or(if bench { 3.0 } else { 0.2 });
        let concurrency = var("E2E_CONCURRENCY")
            .map(|v| v.parse::<usize>().expect("E2E_CONCURRENCY is a whole number"))
            .unwrap_or(if bench { 32 } else { 4 })
            .max(1);
        let pin = match var("E2E_PIN").as_deref() {
            _ if !taskset_works() => Pin::None,
            None | Some("split") => Pin::Split,
            Some("same") => Pin::Same,
            Some("0" | "none") => Pin::None,
            Some(other) => panic!("E2E_PIN is split, same or none, not {other}"),
        };
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        Settings { bench, seconds, concurrency, pin, cpus }
    }

    /// One leg of one round: half a measurement per target (two rounds, each direct then gateway).
    fn leg(&self) -> Duration {
        Duration::from_secs_f64(self.seconds / 2.0)
    }

    fn warm_up(&self) -> Duration {
        Duration::from_secs_f64((self.seconds / 10.0).min(0.3))
    }
}

/// Where the processes run (`E2E_PIN`).
#[derive(Clone, Copy, PartialEq)]
enum Pin {
    /// `split` (the default): the gateway on CPU 0, the mock and the load generator on CPU 1, as
    /// `design.md` measures.
    Split,
    /// `same`: all three on CPU 1, so no message crosses CPUs (a diagnostic: it shows what
    /// cross-CPU wake-ups cost on this machine).
    Same,
    /// `none`: wherever the scheduler puts them; also when `taskset` is missing.
    None,
}

fn taskset_works() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The mock and the gateway, killed when dropped; their logs and config live in `dir`.
struct Processes {
    children: Vec<(&'static str, Child)>,
    dir: PathBuf,
}

impl Processes {
    fn new() -> Processes {
        let dir = std::env::temp_dir().join(format!("orchids2api-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        Processes { children: Vec::new(), dir }
    }

    /// Starts the binary with `args`, on `cpu` if pinning, its stderr and stdout to `<name>.log`.
    fn spawn(&mut self, name: &'static str, cpu: Option<u32>, args: &[&str]) {
        let binary = env!("CARGO_BIN_EXE_orchids2api");
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string(), binary]);
                c
            }
            None => Command::new(binary),
        };
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .env_remove("O2A_CONFIG");
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        self.children.push((name, child));
    }

    /// The resident memory of `name`, from `/proc` (`None` where there is no `/proc`).
    fn rss_kib(&self, name: &str) -> Option<u64> {
        let (_, child) = self.children.iter().find(|(n, _)| *n == name)?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Panics, with the child's log, if `name` has exited.
    fn check_running(&mut self, name: &str) {
        let dir = self.dir.clone();
        for (n, child) in &mut self.children {
            if *n == name
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("the {name} exited ({status}):\n{log}");
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port: bound, then released for a child to bind.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback is available");
    listener.local_addr().expect("a bound listener has an address").port()
}

/// Pins this process (every thread) to `cpu`.
fn pin_self(cpu: u32) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    assert!(status.is_ok_and(|s| s.success()), "taskset could not pin the load generator");
}

/// Where requests go: straight to the mock, or through the gateway.
#[derive(Clone)]
struct Target {
    name: &'static str,
    addr: SocketAddr,
    key: &'static str,
    body: Bytes,
    stream_body: Bytes,
}

impl Target {
    fn new(name: &'static str, addr: SocketAddr, key: &'static str, model: &str) -> Target {
        let body = |stream: bool| {
            Bytes::from(format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say ok."}}],"stream":{stream}}}"#
            ))
        };
        Target { name, addr, key, body: body(false), stream_body: body(true) }
    }

    fn request(&self, stream: bool) -> Request<Full<Bytes>> {
        Request::post("/v1/chat/completions")
            .header(header::HOST, self.addr.to_string())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(if stream { self.stream_body.clone() } else { self.body.clone() }))
            .expect("a request from constants")
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> std::io::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One exchange's timings: to the first content, and to the end of the body.
struct Timing {
    first_content: Option<Duration>,
    total: Duration,
}

/// Sends one request and reads the whole response.
async fn exchange(sender: &mut Sender, target: &Target, stream: bool) -> Timing {
    sender.ready().await.expect("the connection stays open");
    let request = target.request(stream);
    let start = Instant::now();
    let response = sender.send_request(request).await.expect("the server answers");
    let status = response.status();
    let mut body = response.into_body();
    let mut seen = Vec::new();
    let mut first_content = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the body is read to its end");
        if let Some(data) = frame.data_ref()
            && first_content.is_none()
        {
            seen.extend_from_slice(data);
            if has_content(&seen) {
                first_content = Some(start.elapsed());
            }
        }
    }
    let total = start.elapsed();
    assert_eq!(status, StatusCode::OK, "{}: {}", target.name, String::from_utf8_lossy(&seen));
    Timing { first_content, total }
}

/// Does `body` hold a `"content":"…"` with at least one character?
fn has_content(body: &[u8]) -> bool {
    const KEY: &[u8] = br#""content":""#;
    memchr::memmem::find_iter(body, KEY).any(|at| body.get(at + KEY.len()).is_some_and(|&b| b != b'"'))
}

/// Runs `clients` connections to `target` for `warm_up` (discarded) and then `time`; returns the
/// timings of every exchange of the measured part and its wall time.
async fn load(
    target: &Target,
    stream: bool,
    clients: usize,
    warm_up: Duration,
    time: Duration,
) -> (Vec<Timing>, Duration) {
    let start = Instant::now();
    let measure_from = start + warm_up;
    let until = measure_from + time;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let target = target.clone();
        tasks.spawn(async move {
            let mut sender = connect(target.addr).await.expect("the server accepts connections");
            let mut timings = Vec::new();
            loop {
                let sent = Instant::now();
                if sent >= until {
                    break;
                }
                let timing = exchange(&mut sender, &target, stream).await;
                if sent >= measure_from {
                    timings.push(timing);
                }
            }
            timings
        });
    }
    let mut all = Vec::new();
    while let Some(timings) = tasks.join_next().await {
        all.extend(timings.expect("a load task does not panic"));
    }
    (all, Instant::now().saturating_duration_since(measure_from))
}

/// The measurements of one target, in each scenario.
#[derive(Default)]
struct Leg {
    latencies: Vec<Duration>,
    requests: usize,
    load_time: Duration,
    ttfbs: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let settings = Settings::from_env();
    let mut processes = Processes::new();
    let (mock_port, gateway_port) = (free_port(), free_port());
    let mock_listen = format!("127.0.0.1:{mock_port}");
    let gateway_listen = format!("127.0.0.1:{gateway_port}");
    let config = processes.dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            concat!(
                // Coalescing off: the load repeats one body, which would share upstream calls.
                "listen = \"{}\"\ndata_dir = \"{}\"\nlog_level = \"warn\"\ndedup_window_ms = 0\n\n",
                "[[api_keys]]\nname = \"bench\"\nkey = \"{}\"\n\n",
                "[[accounts]]\nchannel = \"openai\"\nname = \"mock\"\nbase_url = \"http://{}/v1\"\ncredential = \"{}\"\n\n",
                "[[models]]\nid = \"bench\"\nchannel = \"openai\"\nupstream = \"mock-bench\"\n"
            ),
            gateway_listen,
            processes.dir.join("data").display(),
            CLIENT_KEY,
            mock_listen,
            UPSTREAM_KEY,
        ),
    )
    .expect("the config is written");
    let (gateway_cpu, load_cpu) = match settings.pin {
        Pin::Split => (Some(0), Some(1)),
        Pin::Same => (Some(1), Some(1)),
        Pin::None => (None, None),
    };
    processes.spawn("mock", load_cpu, &["mock", "openai", "--listen", &mock_listen, "--no-record"]);
    processes.spawn("gateway", gateway_cpu, &["--config", config.to_str().expect("a UTF-8 temp path")]);
    if let Some(cpu) = load_cpu {
        pin_self(cpu);
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mock_addr: SocketAddr = mock_listen.parse().expect("an address");
    let gateway_addr: SocketAddr = gateway_listen.parse().expect("an address");
    runtime.block_on(wait_ready(&mut processes, "mock", mock_addr, "/v1/models"));
    runtime.block_on(wait_ready(&mut processes, "gateway", gateway_addr, "/health"));

    let idle_rss = (processes.rss_kib("gateway"), processes.rss_kib("mock"));
    let direct = Target::new("direct", mock_addr, UPSTREAM_KEY, "mock-bench");
    let gateway = Target::new("gateway", gateway_addr, CLIENT_KEY, "bench");
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let started = Instant::now();
    let mut legs = [Leg::default(), Leg::default()];
    runtime.block_on(async {
        for _round in 0..2 {
            for (leg, target) in legs.iter_mut().zip([&direct, &gateway]) {
                let (timings, _) = load(target, false, 1, settings.warm_up(), settings.leg()).await;
                leg.latencies.extend(timings.iter().map(|t| t.total));
            }
        }
        for _round in 0..2 {
            for (leg, target) in legs.iter_mut().zip([&direct, &gateway]) {
                let (timings, time) =
                    load(target, false, settings.concurrency, settings.warm_up(), settings.leg()).await;
                leg.requests += timings.len();
                leg.load_time += time;
            }
        }
        for _round in 0..2 {
            for (leg, target) in legs.iter_mut().zip([&direct, &gateway]) {
                let (timings, _) = load(target, true, 1, settings.warm_up(), settings.leg()).await;
                leg.ttfbs
                    .extend(timings.iter().map(|t| t.first_content.expect("every stream carries content")));
            }
        }
    });
    let elapsed = started.elapsed();
    processes.check_running("gateway");
    processes.check_running("mock");
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    for leg in &mut legs {
        leg.latencies.sort();
        leg.ttfbs.sort();
        assert!(
            !leg.latencies.is_empty() && leg.requests > 0 && !leg.ttfbs.is_empty(),
            "every leg served requests"
        );
    }
    print!("{}", report(&settings, &legs, elapsed, &load_before, &load_after));
    let mib =
        |kib: Option<u64>| kib.map_or("unknown".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "resident memory: gateway {} idle after start-up, {} after the load; mock {} idle",
        mib(idle_rss.0),
        mib(processes.rss_kib("gateway")),
        mib(idle_rss.1)
    );
}

/// Waits until `addr` answers HTTP on `path` (any status), or panics after 10 s or if the
/// process exited.
async fn wait_ready(processes: &mut Processes, name: &str, addr: SocketAddr, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        processes.check_running(name);
        if let Some(status) = probe(addr, path).await {
            assert!(name != "gateway" || status == StatusCode::OK, "the gateway's {path} says {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the {name} did not answer on {addr} within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn probe(addr: SocketAddr, path: &str) -> Option<StatusCode> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .expect("a request from constants");
    let response = sender.send_request(request).await.ok()?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Some(status)
}

fn report(
    settings: &Settings,
    legs: &[Leg; 2],
    elapsed: Duration,
    load_before: &str,
    load_after: &str,
) -> String {
    let [direct, gateway] = legs;
    let mut out = String::new();
    let mode = if settings.bench { "bench" } else { "smoke (test mode)" };
    let _ = writeln!(
        out,
        "\ne2e ({mode}): POST /v1/chat/completions, OpenAI dialect, model `bench` → mock `mock-bench`; \
         {:.1} s per measurement, {:.1} s in all",
        settings.seconds,
        elapsed.as_secs_f64()
    );
    let cpus = settings.cpus;
    let pinning = match settings.pin {
        Pin::Split => "pinned with taskset: gateway on CPU 0, mock and load generator on CPU 1",
        Pin::Same => "pinned with taskset: gateway, mock and load generator all on CPU 1 (E2E_PIN=same)",
        Pin::None => "not pinned",
    };
    let _ = writeln!(out, "machine: {cpus} CPUs; {pinning}");
    let _ = writeln!(
        out,
        "load average before: {}; after: {}",
        load_before.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        load_after.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let _ =
        writeln!(out, "{:<34} {:>12} {:>12} {:>16}", "measurement", "direct", "via gateway", "added / ratio");
    let mut row = |name: &str, d: Duration, g: Duration| {
        let _ = writeln!(
            out,
            "{:<34} {:>9.1} µs {:>9.1} µs {:>+13.1} µs",
            name,
            micros(d),
            micros(g),
            micros(g) - micros(d)
        );
    };
    row(
        &format!("c=1 non-stream p50 ({}/{} req)", direct.latencies.len(), gateway.latencies.len()),
        percentile(&direct.latencies, 50.0),
        percentile(&gateway.latencies, 50.0),
    );
    row("c=1 non-stream p99", percentile(&direct.latencies, 99.0), percentile(&gateway.latencies, 99.0));
    row(
        &format!("stream TTFB p50 ({}/{} req)", direct.ttfbs.len(), gateway.ttfbs.len()),
        percentile(&direct.ttfbs, 50.0),
        percentile(&gateway.ttfbs, 50.0),
    );
    row("stream TTFB p99", percentile(&direct.ttfbs, 99.0), percentile(&gateway.ttfbs, 99.0));
    let rate = |leg: &Leg| leg.requests as f64 / leg.load_time.as_secs_f64();
    let _ = writeln!(
        out,
        "{:<34} {:>9.0} /s {:>9.0} /s {:>15.1} %",
        format!("c={} non-stream throughput", settings.concurrency),
        rate(direct),
        rate(gateway),
        100.0 * rate(gateway) / rate(direct)
    );
    out
}
