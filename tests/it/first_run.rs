//! [10/10] A newcomer's first screen. The root URL leads to the dashboard, or on a new install
//! to the first-run page. On an empty SQLite install `serve` writes a one-time setup token
//! beside the database (0600; the log names only the path) and generates the token secret like
//! the other development keys; the page creates the first tenant and owner and signs them in.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use balas::api::auth::Role;

use crate::dashboard::{Visitor, user};
use crate::on_both_databases;
use crate::serve_process::free_addr;

/// `balas serve` on a new SQLite database in `dir`, with no key or secret configured at all;
/// its log goes to `dir/serve.log`.
fn serve_empty(dir: &Path, addr: &str) -> Child {
    let log = std::fs::File::create(dir.join("serve.log")).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_balas"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BALAS_DATABASE_URL", format!("sqlite://{}", dir.join("balas.db").display()))
        .env("BALAS_LISTEN", addr)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn balas serve")
}

async fn wait_ready(child: &mut Child, addr: &str) {
    balas::crypto::install_crypto_provider();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        assert!(child.try_wait().expect("try_wait").is_none(), "balas serve exited during startup");
        if let Ok(r) = reqwest::get(format!("http://{addr}/readyz")).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("balas serve did not become ready");
}

/// Posts the setup form for Bu Sri's shop.
async fn submit(visitor: &mut Visitor, token: &str, password: &str) -> crate::dashboard::Answer {
    let form = [
        ("token", token),
        ("business", "Warung Kopi Bu Sri"),
        ("email", "sri@warung.example"),
        ("password", password),
        ("language", "id"),
    ];
    visitor.post("/dashboard/setup", &form).await
}

/// `balas serve`, ready, on an empty SQLite install in its own directory; stopped when dropped.
pub struct EmptyInstall {
    pub dir: tempfile::TempDir,
    pub addr: String,
    child: Child,
}

impl EmptyInstall {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let mut child = serve_empty(dir.path(), &addr);
        wait_ready(&mut child, &addr).await;
        Self { dir, addr, child }
    }

    pub fn token_file(&self) -> std::path::PathBuf {
        self.dir.path().join("balas.db.setup-token")
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.token_file()).expect("the setup token file").trim().to_string()
    }
}

impl Drop for EmptyInstall {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_empty_sqlite_install_leads_from_the_root_to_the_setup_page_and_into_the_inbox() {
    let install = EmptyInstall::start().await;
    let (dir, addr) = (&install.dir, &install.addr);
    let (token_file, token) = (install.token_file(), install.token());
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("balas.db.setup-token") && !log.contains(&token), "the log names the file, never the token");
    let keys = std::fs::read_to_string(dir.path().join("balas.db.keys")).unwrap();
    assert!(keys.contains("BALAS_JWT_SECRET="), "the token secret is a development key too");
    assert!(!log.contains(keys.lines().find_map(|l| l.strip_prefix("BALAS_JWT_SECRET=")).unwrap()));

    let mut visitor = Visitor::new(&format!("http://{addr}"));
    let root = visitor.get("/").await;
    assert_eq!((root.status, root.location()), (303, "/dashboard/setup"));
    assert_eq!(visitor.get("/dashboard").await.location(), "/dashboard/login");
    let page = visitor.get("/dashboard/setup").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("balas tenant create") && page.body.contains("balas user create"), "{}", page.body);
    assert!(
        page.body.contains("id=\"setup\"") && page.body.contains("balas.db.setup-token"),
        "the form and the file's name"
    );
    assert!(!page.body.contains(&dir.path().display().to_string()), "not the directory");

    let forged = reqwest::Client::new()
        .post(format!("http://{addr}/dashboard/setup"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("token", token.as_str()),
            ("business", "Toko Palsu"),
            ("email", "x@y.example"),
            ("password", "kopi-susu-gula-aren"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "another site's post, even with the token");
    assert!(token_file.exists());
    let wrong = submit(&mut visitor, &"0".repeat(64), "kopi-susu-gula-aren").await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert!(wrong.body.contains("Token penyiapan salah"));
    let short = submit(&mut visitor, &token, "pendek").await;
    assert_eq!(short.status, 400, "a typo costs no token");
    assert!(token_file.exists());
    let created = submit(&mut visitor, &token, "kopi-susu-gula-aren").await;
    assert_eq!((created.status, created.location()), (303, "/dashboard"), "{}", created.body);
    assert!(visitor.cookies.contains_key("balas_session"), "signed in");
    assert!(!token_file.exists(), "the token is spent");
    let inbox = visitor.get("/dashboard").await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.body.contains("Tiket terbuka") && inbox.body.contains("Warung Kopi Bu Sri"), "{}", inbox.body);

    let mut stranger = Visitor::new(&format!("http://{addr}"));
    assert_eq!(stranger.get("/").await.location(), "/dashboard");
    assert_eq!(stranger.get("/dashboard/setup").await.location(), "/dashboard/login");
    let again = submit(&mut stranger, &token, "kopi-susu-gula-aren").await;
    assert_eq!(again.location(), "/dashboard/setup", "set up once only");
    assert_eq!(stranger.get("/dashboard/setup").await.location(), "/dashboard/login");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("balas.db").display())).await.unwrap();
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action IN ('tenant.created', 'user.created') ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(actors, ["setup", "setup"], "one tenant, one owner, both audited as the setup page");
}

on_both_databases! {
    async fn a_tenant_without_users_leads_from_the_root_to_the_user_command(app) {
        let mut visitor = Visitor::new(&app.base);
        assert_eq!(visitor.get("/").await.location(), "/dashboard/setup");
        let page = visitor.get("/dashboard/setup").await.body;
        assert!(page.contains("balas user create") && !page.contains("balas tenant create"), "{page}");
        assert!(!page.contains("id=\"setup\""), "no token was armed: no form");
        user(&app, "sri@warung.example", Role::Owner).await;
        // "No user yet" is reused for 2 s, so a stream of anonymous visits costs few queries.
        assert_eq!(visitor.get("/").await.location(), "/dashboard/setup", "still the cached answer");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(visitor.get("/").await.location(), "/dashboard");
        assert_eq!(visitor.get("/dashboard/setup").await.location(), "/dashboard/login");
    }

    async fn without_a_token_secret_every_page_leads_to_how_to_set_it(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let off = app.serve_with(|c| c.jwt_secret = None).await;
        let mut visitor = Visitor::new(&off.base);
        for path in ["/", "/dashboard", "/dashboard/login", "/dashboard/conversations"] {
            assert_eq!(visitor.get(path).await.location(), "/dashboard/setup", "{path}");
        }
        let page = visitor.get("/dashboard/setup").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("id=\"jwt-missing\"") && page.body.contains("balas keys generate"), "{}", page.body);
        assert!(!page.body.contains("id=\"commands\""), "a user exists already");
    }
}

#[tokio::test]
async fn a_tenant_made_by_the_cli_meanwhile_ends_the_setup_token() {
    let install = EmptyInstall::start().await;
    let (dir, addr) = (&install.dir, &install.addr);
    let (token_file, token) = (install.token_file(), install.token());

    let created = Command::new(env!("CARGO_BIN_EXE_balas"))
        .args(["tenant", "create", "--name", "Toko Roti Pak Budi"])
        .env_clear()
        .env("BALAS_DATABASE_URL", format!("sqlite://{}", dir.path().join("balas.db").display()))
        .output()
        .expect("balas tenant create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let mut visitor = Visitor::new(&format!("http://{addr}"));
    assert_eq!(visitor.get("/").await.location(), "/dashboard/setup");
    assert!(!token_file.exists(), "the token went with the tenant");
    let page = visitor.get("/dashboard/setup").await.body;
    assert!(page.contains("balas user create") && !page.contains("id=\"setup\""), "{page}");
    let refused = submit(&mut visitor, &token, "kopi-susu-gula-aren").await;
    assert_eq!(refused.location(), "/dashboard/setup", "a tenant exists: nothing is created");
}
