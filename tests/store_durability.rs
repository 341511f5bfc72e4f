//! Every write the store acknowledged survives the writing process being killed with SIGKILL in
//! the middle of a burst of writes, on both backends.
//!
//! Each test spawns this test binary again, running only the ignored test [`writer`] with
//! `STORE_DURABILITY_WRITER` naming the backend and where its data lives. The child creates
//! accounts, patches them and counts usage as fast as it can, printing one line to stdout after
//! each write the store acknowledged. The parent reads those lines, sends SIGKILL after
//! [`KILL_AFTER`] acknowledged creates, reads what the child printed before it died, reopens the
//! store and checks that every acknowledged write is there.
//!
//! The Redis test needs a server at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/`), uses
//! its own random key prefix and deletes its keys at the end.

use orchids2api::channels::ChannelKind;
use orchids2api::secret::Secret;
use orchids2api::store::crypto::Cipher;
use orchids2api::store::embedded::EmbeddedStore;
use orchids2api::store::redis::RedisStore;
use orchids2api::store::{AccountPatch, NewAccount, Store, UsageDelta, UsageQuery};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Tells the child which store to write: `embedded:<data dir>` or `redis:<key prefix>`.
const WRITER_ENV: &str = "STORE_DURABILITY_WRITER";
/// Creates the parent waits for before it kills the child.
const KILL_AFTER: usize = 150;
/// The child stops by itself after this many rounds, should nobody kill it.
const MAX_ROUNDS: u32 = 1_000_000;
/// The longest the parent waits for the child's lines.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);
const SECRET_KEY: &str = "durability-test-key-0123456789abcdef";
const DAY: u32 = 20260101;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn cipher() -> Cipher {
    Cipher::new(Some(&Secret::new(SECRET_KEY)))
}

async fn open(spec: &str) -> Arc<dyn Store> {
    match spec.split_once(':') {
        Some(("embedded", dir)) => {
            Arc::new(EmbeddedStore::open(dir.as_ref(), cipher()).await.expect("open the embedded store"))
        }
        Some(("redis", prefix)) => {
            let url = redis_url();
            match RedisStore::connect(&Secret::new(url.as_str()), prefix, cipher()).await {
                Ok(store) => Arc::new(store),
                Err(err) => {
                    panic!("the Redis durability test needs a Redis server at {url} (TEST_REDIS_URL): {err}")
                }
            }
        }
        _ => panic!("{WRITER_ENV} must be embedded:<dir> or redis:<prefix>, got {spec:?}"),
    }
}

fn new_account(i: u32) -> NewAccount {
    NewAccount {
        channel: ChannelKind::OpenAi,
        name: format!("acct-{i}"),
        credential: Secret::new(format!("sk-{i}")),
        base_url: None,
        weight: 1,
        priority: 0,
        enabled: true,
        max_concurrency: 0,
    }
}

/// The child: writes until killed, printing each acknowledged write.
#[tokio::test]
#[ignore = "the child process of the durability tests, which run it"]
async fn writer() {
    let spec =
        std::env::var(WRITER_ENV).expect("run by the durability tests, which set STORE_DURABILITY_WRITER");
    let store = open(&spec).await;
    for i in 0..MAX_ROUNDS {
        let account = store.create_account(new_account(i)).await.unwrap();
        println!("created {} {i}", account.id);
        let patch = AccountPatch { weight: Some(i + 2), ..AccountPatch::default() };
        store.update_account(account.id, patch).await.unwrap().unwrap();
        println!("patched {} {}", account.id, i + 2);
        let delta = UsageDelta { day: DAY, model: "m".into(), requests: 1, ..UsageDelta::default() };
        store.record_usage(vec![delta]).await.unwrap();
        println!("counted");
    }
}

/// What the child said the store acknowledged.
#[derive(Default, Debug)]
struct Acks {
    /// (id, round)
    created: Vec<(u64, u32)>,
    /// (id, weight)
    patched: Vec<(u64, u32)>,
    counted: u64,
}

impl Acks {
    /// Reads one line; a line cut short by the kill does not parse and is not an ack.
    fn read(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["created", id, round] => {
                if let (Ok(id), Ok(round)) = (id.parse(), round.parse()) {
                    self.created.push((id, round));
                }
            }
            ["patched", id, weight] => {
                if let (Ok(id), Ok(weight)) = (id.parse(), weight.parse()) {
                    self.patched.push((id, weight));
                }
            }
            ["counted"] => self.counted += 1,
            _ => {}
        }
    }
}

/// Runs the child on `spec`, kills it with SIGKILL after [`KILL_AFTER`] creates and returns
/// every acknowledgement it printed.
fn write_until_killed(spec: &str) -> Acks {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["writer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Acks::default();
    while acks.created.len() < KILL_AFTER {
        match lines.recv_timeout(CHILD_DEADLINE) {
            Ok(line) => acks.read(&line),
            Err(_) => {
                let _ = child.kill();
                panic!("the writer stopped or stalled after {} creates", acks.created.len());
            }
        }
    }
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().expect("reap the writer");
    assert_eq!(status.signal(), Some(9), "the writer was killed mid-burst, not finished: {status}");
    // Whatever it printed before it died is still in the pipe.
    while let Ok(line) = lines.recv_timeout(CHILD_DEADLINE) {
        acks.read(&line);
    }
    reader.join().expect("the reader thread");
    acks
}

/// Reopens the store and checks every acknowledged write is in it.
async fn check(spec: &str, acks: &Acks) {
    let store = open(spec).await;
    let accounts = store.list_accounts().await.expect("list after the kill");
    let by_id: std::collections::HashMap<u64, _> = accounts.iter().map(|a| (a.id, a)).collect();
    for (id, round) in &acks.created {
        let account = by_id.get(id).unwrap_or_else(|| panic!("acknowledged account {id} was lost"));
        assert_eq!(account.name, format!("acct-{round}"));
        assert_eq!(account.credential.expose(), format!("sk-{round}"));
    }
    for (id, weight) in &acks.patched {
        assert_eq!(by_id[id].weight, *weight, "acknowledged patch of account {id} was lost");
    }
    let usage = store.query_usage(UsageQuery::default()).await.expect("usage after the kill");
    let requests: u64 = usage.iter().map(|row| row.requests).sum();
    // One more than acknowledged is fine: the kill may land between a commit and its line.
    assert!(requests >= acks.counted, "{} acknowledged usage writes, {requests} stored", acks.counted);
}

/// A directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn embedded_store_keeps_every_acknowledged_write_through_a_sigkill() {
    let dir = TempDir(std::env::temp_dir().join(format!("o2a-durability-{:016x}", rand::random::<u64>())));
    let spec = format!("embedded:{}", dir.0.display());
    let acks = tokio::task::spawn_blocking({
        let spec = spec.clone();
        move || write_until_killed(&spec)
    })
    .await
    .unwrap();
    check(&spec, &acks).await;
}

/// Deletes every key under the prefix (SCAN + DEL) when dropped, panicking or not.
struct RedisKeys(String);

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) else { return };
        let mut cursor = 0u64;
        loop {
            let scanned: Result<(u64, Vec<String>), _> =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{}*", self.0)).query(&mut conn);
            let Ok((next, keys)) = scanned else { return };
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

#[tokio::test]
async fn redis_store_keeps_every_acknowledged_write_through_a_sigkill() {
    let keys = RedisKeys(format!("o2a-test-durability-{:016x}:", rand::random::<u64>()));
    let spec = format!("redis:{}", keys.0);
    let acks = tokio::task::spawn_blocking({
        let spec = spec.clone();
        move || write_until_killed(&spec)
    })
    .await
    .unwrap();
    check(&spec, &acks).await;
}
