//! The gateway binary as a child process, for tests of the whole program (signals, kill -9,
//! several processes on one store).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_orchids2api");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `orchids2api` process, killed on drop.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
}

impl Gateway {
    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the gateway with `config` and waits until it answers `/health` on `port`.
pub async fn start(config: &Path, port: u16) -> Gateway {
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env_remove("O2A_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let gateway = Gateway { child, port };
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            && super::send(gateway.addr(), "GET", "/health", &[], "").await.status == 200
        {
            return gateway;
        }
        assert!(Instant::now() < until, "the gateway did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
