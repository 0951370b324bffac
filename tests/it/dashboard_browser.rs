//! The dashboard end to end in headless Chromium (driven through chromedriver by fantoccini):
//! log in, find the escalated ticket in the inbox, open it, reply, and check that the
//! customer-side provider fake received the reply. A screenshot of the ticket page is saved
//! under `target/dashboard-screenshots/`. Without chromium and chromedriver (found when the
//! tests are built, see build.rs) the test is reported as ignored; under `CI=true` it runs.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use balas::api::auth::Role;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::dashboard::{CUSTOMER, PASSWORD, customer_writes, user};
use crate::helpers::{Db, TestApp, customer};

/// The first executable named `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// chromedriver and the browser it drives. The test is ignored at build time when they are
/// missing (build.rs), so a run without them is a failure, never a silent pass.
fn browser_tools() -> (PathBuf, PathBuf) {
    let driver = on_path("chromedriver");
    let browser = on_path("chromium").or_else(|| on_path("chromium-browser")).or_else(|| on_path("google-chrome"));
    match (driver, browser) {
        (Some(d), Some(b)) => (d, b),
        _ => panic!(
            "chromium and chromedriver are not both on PATH (apt-get install chromium chromium-driver), but the browser test was built to run"
        ),
    }
}

/// A chromedriver child process on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(binary: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{}/status", driver.url)).send().await.is_ok_and(|r| r.status().is_success()) {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on port {port} within 10 seconds");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    let args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"];
    caps.insert("goog:chromeOptions".into(), json!({ "binary": chromium, "args": args }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a chromium session")
}

/// Saves a PNG of the current page and prints where.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, client.screenshot().await.expect("screenshot")).unwrap();
    println!("screenshot: {}", path.display());
    path
}

async fn scenario(app: &TestApp, client: &Client) {
    let reply = "Mohon maaf kak, paketnya kami kirim ulang hari ini 🙏";
    let wait = || client.wait().at_most(Duration::from_secs(15));
    client.goto(&format!("{}/dashboard/login", app.base)).await.unwrap();
    wait().for_element(Locator::Css("#tenant")).await.unwrap().send_keys(&app.tenant.slug).await.unwrap();
    client.find(Locator::Css("#email")).await.unwrap().send_keys("sri@warung.example").await.unwrap();
    client.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    client.find(Locator::Css("#login")).await.unwrap().click().await.unwrap();

    let link = wait().for_element(Locator::Css("#tickets a.ticket")).await.expect("the inbox lists the ticket");
    assert_eq!(link.text().await.unwrap(), "#1");
    let row = client.find(Locator::Css("#tickets tbody tr")).await.unwrap().text().await.unwrap();
    assert!(row.contains("Rina (+62*******0777)") && !row.contains(CUSTOMER), "the customer is masked: {row}");
    link.click().await.unwrap();

    let messages = wait().for_element(Locator::Css("#messages")).await.unwrap().text().await.unwrap();
    assert!(messages.contains("paket saya belum sampai"), "the conversation is shown: {messages}");
    client.find(Locator::Css("#text")).await.unwrap().send_keys(reply).await.unwrap();
    client.find(Locator::Css("#send")).await.unwrap().click().await.unwrap();
    let flash = wait().for_element(Locator::Css(".flash.ok")).await.expect("a confirmation").text().await.unwrap();
    assert!(flash.contains("Balasan"), "{flash}");
    let db = if app.db == Db::Sqlite { "sqlite" } else { "postgres" };
    screenshot(client, &format!("ticket-replied-{db}")).await;

    app.drain().await;
    assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some(reply), "the customer got the typed reply");
    let read = app
        .inspect
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read' AND actor LIKE 'user:%'")
        .await;
    assert!(read >= 1, "the browser's view is audited");

    // A burst: two more complaints and a question. The conversations page shows them with the
    // bot's answer, and the charts count them at once, with no rollup job run.
    for (n, text) in
        [(41, "Saya mau komplain, barangnya rusak"), (42, "Komplain kak, salah kirim"), (43, "Jam buka toko kapan?")]
    {
        assert_eq!(app.send_webhook(&app.text(&customer(n), &format!("wamid.BB{n}"), text)).await.status(), 200);
    }
    app.drain().await;
    client.goto(&format!("{}/dashboard/conversations", app.base)).await.unwrap();
    wait().for_element(Locator::Css("section.conversation")).await.unwrap();
    let all = client.find_all(Locator::Css("section.conversation")).await.unwrap();
    assert_eq!(all.len(), 4, "every conversation");
    let text = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(text.contains("Jam buka toko kapan?") && text.contains("buka setiap hari"), "the bot's answer: {text}");
    assert!(text.contains(reply), "the owner's reply");
    screenshot(client, &format!("conversations-{db}")).await;
    client.find(Locator::LinkText("Dieskalasi (2)")).await.unwrap().click().await.unwrap();
    wait()
        .for_url(&url::Url::parse(&format!("{}/dashboard/conversations?state=escalated", app.base)).unwrap())
        .await
        .unwrap();
    let escalated = client.find_all(Locator::Css("section.conversation[data-state=escalated]")).await.unwrap();
    let shown = client.find_all(Locator::Css("section.conversation")).await.unwrap();
    assert_eq!((escalated.len(), shown.len()), (2, 2), "the two new complaints");

    client.goto(&format!("{}/dashboard/analytics", app.base)).await.unwrap();
    let figures = wait().for_element(Locator::Css("dl.figures")).await.unwrap().text().await.unwrap();
    assert!(figures.contains("Percakapan\n4"), "four conversations right after the burst: {figures}");
    assert!(figures.contains("Dieskalasi\n75%"), "three of four escalated: {figures}");
    let as_of = client.find(Locator::Css("#as-of")).await.unwrap().text().await.unwrap();
    assert!(as_of.starts_with("Data per pukul "), "{as_of}");
    // Only the plots' bars: the legend swatches are rects in other (aria-hidden) svgs.
    let bars = client.find_all(Locator::Css("figure.chart svg[role=img] rect")).await.unwrap();
    assert!(bars.len() >= 3, "bars for the messages and the conversation: {}", bars.len());
    let mut tips = Vec::new();
    for bar in &bars {
        // A <title> is never rendered, so its text is read as markup, not as visible text.
        tips.push(bar.find(Locator::Css("title")).await.expect("every bar has a title").html(true).await.unwrap());
    }
    let counted =
        |tip: &String| tip.rsplit_once(": ").and_then(|(_, n)| n.trim().parse::<i64>().ok()).is_some_and(|n| n >= 1);
    assert!(tips.iter().any(counted), "a bar's title names its count: {tips:?}");
    screenshot(client, &format!("analytics-{db}")).await;
}

async fn in_chromium(app: TestApp) {
    let (chromedriver, chromium) = browser_tools();
    // The charts count conversations per local day: keep the scenario on one.
    crate::analytics::clear_of_midnight(&app, chrono::Duration::minutes(10));
    user(&app, "sri@warung.example", Role::Owner).await;
    customer_writes(&app, "wamid.BR1", "Saya mau komplain, paket saya belum sampai").await;
    let app = std::sync::Arc::new(app);
    with_browser(&chromedriver, &chromium, |client| async move { scenario(&app, &client).await }).await;
}

/// Runs `drive` in a fresh Chromium session, closes the session whatever happens, then lets a
/// failed assertion fail the test.
async fn with_browser<F, Fut>(chromedriver: &Path, chromium: &Path, drive: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let driver = Driver::start(chromedriver).await;
    let client = browser(&driver, chromium).await;
    let outcome = tokio::spawn(drive(client.clone())).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

mod dashboard_in_chromium_logs_in_and_replies_to_the_customer {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(balas_test_browser), ignore = "install chromium and chromedriver to run the browser test")]
    async fn sqlite() {
        if let Some(app) = TestApp::spawn(Db::Sqlite).await {
            in_chromium(app).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(balas_test_browser, balas_test_postgres)),
        ignore = "install chromium and chromedriver, and set BALAS_TEST_POSTGRES_URL, to run the browser test on PostgreSQL"
    )]
    async fn postgres() {
        if let Some(app) = TestApp::spawn(Db::Postgres).await {
            in_chromium(app).await
        }
    }
}

/// From an empty install to a signed-in inbox: the root URL, the first-run page, the setup
/// token from the file `serve` wrote, and the owner's first inbox.
async fn first_run(client: &Client, addr: &str, dir: &Path) {
    let wait = || client.wait().at_most(Duration::from_secs(15));
    client.goto(&format!("http://{addr}/")).await.unwrap();
    wait().for_element(Locator::Css("form#setup")).await.expect("the root leads to the first-run page");
    assert!(client.current_url().await.unwrap().path().ends_with("/dashboard/setup"));
    screenshot(client, "first-run").await;
    let token = std::fs::read_to_string(dir.join("balas.db.setup-token")).expect("the token file");
    client.find(Locator::Css("#token")).await.unwrap().send_keys(token.trim()).await.unwrap();
    client.find(Locator::Css("#business")).await.unwrap().send_keys("Warung Kopi Bu Sri").await.unwrap();
    client.find(Locator::Css("#email")).await.unwrap().send_keys("sri@warung.example").await.unwrap();
    client.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    client.find(Locator::Css("#create")).await.unwrap().click().await.unwrap();
    let empty = wait().for_element(Locator::Css("#empty")).await.expect("the owner's inbox");
    assert!(empty.text().await.unwrap().contains("Tidak ada tiket terbuka"));
    let nav = client.find(Locator::Css("nav")).await.unwrap().text().await.unwrap();
    assert!(nav.contains("Warung Kopi Bu Sri") && nav.contains("Percakapan"), "{nav}");
    screenshot(client, "first-inbox").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(balas_test_browser), ignore = "install chromium and chromedriver to run the browser test")]
async fn an_empty_install_in_chromium_leads_from_the_root_to_a_signed_in_inbox() {
    let (chromedriver, chromium) = browser_tools();
    let install = crate::first_run::EmptyInstall::start().await;
    let (addr, dir) = (install.addr.clone(), install.dir.path().to_path_buf());
    with_browser(&chromedriver, &chromium, |client| async move { first_run(&client, &addr, &dir).await }).await;
}
