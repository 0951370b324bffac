//! `balas serve` as a child process on a test app's database: the real binary, with its real
//! startup, signals and exit, for the fault, shutdown and log tests.
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TestApp;

pub struct ServeProcess {
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

/// A loopback address nobody listens on yet.
pub fn free_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").to_string()
}

impl ServeProcess {
    /// Starts it on `addr` with only the app's CLI environment, the fake Graph API and `env`
    /// (which wins), and waits until `/readyz` answers 200.
    pub async fn start(app: &TestApp, addr: &str, env: &[(&str, &str)]) -> Self {
        let output = || if std::env::var("TEST_LOG").is_ok() { Stdio::inherit() } else { Stdio::null() };
        let mut process = Self::spawn(app, addr, env, output());
        process.wait_ready(app).await;
        process
    }

    /// Starts it without waiting; `stderr` is where its log lines go.
    pub fn spawn(app: &TestApp, addr: &str, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_balas"))
            .arg("serve")
            .env_clear()
            .envs(app.cli_env.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BALAS_LISTEN", addr)
            .env("BALAS_META_GRAPH_URL", &app.providers.meta_url)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn balas serve");
        Self { child, addr: addr.to_string() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn wait_ready(&mut self, app: &TestApp) {
        // Generous: on a busy CI machine a PostgreSQL start can take seconds.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            assert!(self.child.try_wait().expect("try_wait").is_none(), "balas serve exited during startup");
            if let Ok(r) = app.http.get(self.url("/readyz")).timeout(Duration::from_secs(1)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("balas serve did not become ready");
    }

    /// SIGTERM: a graceful stop, as in production.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Waits (polling, without blocking the runtime) for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "balas serve did not exit within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
