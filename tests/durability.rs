//! kill -9 of the gateway process in the middle of a burst of admin writes loses no write it
//! acknowledged; after a restart the accounts, keys and cooldowns are all there. For both store
//! backends (the Redis one needs the local Redis at 127.0.0.1:6379).

mod common;

use common::process::{free_port, start};
use common::*;
use orchids2api::mock::{MockKind, MockServer};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const ADMIN: &str = "admin-token-for-durability-tests";

async fn admin(g: &common::process::Gateway, method: &str, path: &str, body: Option<Value>) -> Reply {
    let addr = ([127, 0, 0, 1], g.port).into();
    let auth = format!("Bearer {ADMIN}");
    send(
        addr,
        method,
        path,
        &[("authorization", &auth), ("content-type", "application/json")],
        body.map(|b| b.to_string()).unwrap_or_default(),
    )
    .await
}

/// One key creation; `None` when the gateway is gone (connection refused or reset).
async fn create_key(port: u16, name: &str) -> Option<u16> {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.ok()?;
    tokio::spawn(conn);
    let request = http::Request::post("/api/keys")
        .header("host", "gateway")
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(http_body_util::Full::new(bytes::Bytes::from(json!({"name": name}).to_string())))
        .ok()?;
    let response =
        tokio::time::timeout(Duration::from_secs(5), sender.send_request(request)).await.ok()?.ok()?;
    let status = response.status().as_u16();
    response.into_body().collect().await.ok()?;
    Some(status)
}

type Acknowledged = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Four clients creating keys as fast as they can until the gateway goes away; every name the
/// gateway acknowledged (201) is recorded.
fn burst(port: u16) -> (Acknowledged, Vec<tokio::task::JoinHandle<()>>) {
    let acknowledged = Acknowledged::default();
    let writers = (0..4)
        .map(|w| {
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("key-{w}-{n}");
                    match create_key(port, &name).await {
                        Some(201) => acknowledged.lock().unwrap().push(name),
                        Some(_) => {}
                        None => return,
                    }
                }
            })
        })
        .collect();
    (acknowledged, writers)
}

async fn survives_kill_9(backend: &str) {
    let mock = MockServer::start(MockKind::OpenAi).await.unwrap();
    let dir = TempDir::new("durable");
    let prefix = format!("o2a-test-{:016x}:", rand::random::<u64>());
    let port = free_port();
    let store = match backend {
        "redis" => format!(
            "store = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/0\"\nredis_prefix = \"{prefix}\"\n"
        ),
        _ => String::new(),
    };
    let config = dir.0.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            concat!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = {data:?}\nadmin_token = \"{admin}\"\nlog_level = \"warn\"\n{store}\n",
                "[[api_keys]]\nname = \"client\"\nkey = \"{key}\"\n\n",
                "[[accounts]]\nchannel = \"openai\"\nname = \"limited\"\nbase_url = \"{base}\"\ncredential = \"sk-scenario-error_429\"\n\n",
                "[[models]]\nid = \"mock-text\"\nchannel = \"openai\"\n"
            ),
            port = port,
            data = dir.0.join("data").display().to_string(),
            admin = ADMIN,
            store = store,
            key = KEY,
            base = mock.base_url(),
        ),
    )
    .unwrap();

    let mut g = start(&config, port).await;
    // A cooldown: the account meets a 429.
    let r = send(
        ([127, 0, 0, 1], port).into(),
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer())],
        json!({"model": "mock-text", "messages": [{"role": "user", "content": "x"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 429);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A burst of writes, killed in the middle.
    let (acknowledged, writers) = burst(port);
    while acknowledged.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = Command::new("kill").args(["-KILL", &g.child.id().to_string()]).status();
    let _ = g.child.wait();
    drop(g);
    for w in writers {
        let _ = w.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let g = start(&config, port).await;
    let keys = admin(&g, "GET", "/api/keys", None).await.json();
    let stored: std::collections::HashSet<String> =
        keys.as_array().unwrap().iter().filter_map(|k| k["name"].as_str().map(str::to_string)).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|n| !stored.contains(*n)).collect();
    assert!(lost.is_empty(), "{backend}: {} acknowledged writes lost: {lost:?}", lost.len());
    assert!(acknowledged.len() >= 60);
    let accounts = admin(&g, "GET", "/api/accounts", None).await.json();
    let limited = accounts.as_array().unwrap().iter().find(|a| a["name"] == "limited").unwrap();
    assert_eq!(
        (limited["status"].as_str(), limited["reason"].as_str()),
        (Some("cooling"), Some("rate_limited")),
        "{backend}: {limited}"
    );
    assert!(stored.contains("client"), "the seeded key is still there");
    drop(g);
    if backend == "redis"
        && let Ok(mut conn) = redis::Client::open("redis://127.0.0.1:6379/0").and_then(|c| c.get_connection())
    {
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_acknowledged_admin_write_is_lost_to_kill_9_embedded() {
    survives_kill_9("embedded").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_acknowledged_admin_write_is_lost_to_kill_9_redis() {
    survives_kill_9("redis").await;
}
