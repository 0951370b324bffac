//! A `balas serve` process of this build for the drivers that need the real binary: its own
//! memory, its own crash.
#![allow(dead_code)] // not every driver starts the binary
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `balas serve` and what talks to it.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts the binary and waits for `/readyz`; returns it with its cold-start time.
    pub async fn start(env: &[(String, String)], workers: usize) -> anyhow::Result<(Self, Duration)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_balas"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("BALAS_LISTEN", format!("127.0.0.1:{port}"))
            .env("BALAS_PUBLIC_URL", &base)
            .env("BALAS_WORKERS", workers.to_string())
            .env("BALAS_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let server = Self { child, base };
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok((server, started.elapsed()));
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "balas did not become ready");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// (current, peak) resident memory in MiB, from /proc.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix(" kB")?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A driver that fails half-way must not leave the server running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
