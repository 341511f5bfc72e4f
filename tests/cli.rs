//! The `orchids2api` binary: start-up from a config file, graceful exit on SIGTERM, config checks.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_orchids2api");

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("o2a-cli-{}-{name}", std::process::id()));
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn check_config_names_an_unknown_key() {
    let path = temp_file("bad.toml", "lisen = \"127.0.0.1:1\"\n");
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("O2A_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lisen"), "{stderr}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn check_config_accepts_the_original_config_json_with_warnings() {
    let path = temp_file(
        "config.json",
        r#"{"port":"3999","admin_pass":"s3cret","redis_addr":"","suppress_thinking":true}"#,
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("O2A_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("0.0.0.0:3999"), "{stdout}");
    assert!(stdout.contains("suppress_thinking"), "{stdout}");
    assert!(!stdout.contains("s3cret"));
    let _ = std::fs::remove_file(path);
}

// See: reference/client-conventions.md §4.10 #18 (AC-30)
#[test]
fn sigterm_drains_and_exits_zero() {
    let port = free_port();
    let data = std::env::temp_dir().join(format!("o2a-cli-{}-data", std::process::id()));
    let path = temp_file(
        "serve.toml",
        &format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\ndrain_timeout_s = 5\nlog_level = \"warn\"\n",
            data.display().to_string()
        ),
    );
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("O2A_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(data.join("orchids2api.db").exists(), "the embedded store lives in data_dir");
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_dir_all(data);
}
