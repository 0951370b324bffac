//! The operator CLI, run as a real process against the test database.
use crate::on_both_databases;

on_both_databases! {
    async fn operator_commands_create_list_connect_and_import(app) {
        let created = app.cli(&["tenant", "create", "--name", "Bakso Pak Kumis", "--language", "id", "--link-hosts", "https://BaksoKumis.id/"]);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
        assert_eq!(app.inspect.text("SELECT link_hosts FROM tenants WHERE slug = 'bakso-pak-kumis'").await.as_deref(), Some("baksokumis.id"));
        let shortener = app.cli(&["tenant", "create", "--name", "Bakso Lain", "--link-hosts", "bit.ly"]);
        assert!(!shortener.status.success() && String::from_utf8_lossy(&shortener.stderr).contains("link_hosts"), "{}", String::from_utf8_lossy(&shortener.stderr));
        let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "prints the tenant id: {id}");

        let listed = String::from_utf8_lossy(&app.cli(&["tenant", "list"]).stdout).to_string();
        assert!(listed.contains("bakso-pak-kumis") && listed.contains(&app.tenant.slug), "{listed}");

        let added = app.cli(&["channel", "add", "--tenant", "bakso-pak-kumis", "--provider", "meta", "--phone-number-id", "5550001",
            "--app-secret", "s3cret", "--access-token", "tok", "--public-url", "https://balas.example.id"]);
        let out = String::from_utf8_lossy(&added.stdout).to_string();
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        assert!(out.contains("webhook URL:  https://balas.example.id/webhooks/meta/"), "{out}");
        assert!(out.contains("verify token:"), "a verify token is generated and shown once");
        assert!(!out.contains("s3cret"));

        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("faq.csv");
        std::fs::write(&csv, "pertanyaan,jawaban\nPedas?,Bisa pilih level 1-5\nBuka jam?,10.00-22.00\n").unwrap();
        let imported = app.cli(&["kb", "import", "--tenant", &id, csv.to_str().unwrap()]);
        assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
        assert!(String::from_utf8_lossy(&imported.stdout).contains("imported 2 FAQ entries"));

        let twilio = app.cli(&["channel", "add", "--tenant", &id, "--provider", "twilio", "--account-sid", "AC0123",
            "--auth-token", "tw-secret", "--from", "whatsapp:+14155238886", "--public-url", "https://balas.example.id"]);
        let out = String::from_utf8_lossy(&twilio.stdout).to_string();
        assert!(twilio.status.success(), "{}", String::from_utf8_lossy(&twilio.stderr));
        assert!(out.contains("webhook URL:  https://balas.example.id/webhooks/twilio/") && !out.contains("tw-secret"), "{out}");

        let fonnte = app.cli(&["channel", "add", "--tenant", &id, "--provider", "fonnte", "--device", "0811-2222-3333",
            "--token", "fonnte-tok", "--public-url", "https://balas.example.id"]);
        let out = String::from_utf8_lossy(&fonnte.stdout).to_string();
        assert!(fonnte.status.success(), "{}", String::from_utf8_lossy(&fonnte.stderr));
        let url = out.lines().find_map(|l| l.strip_prefix("webhook URL:  ")).unwrap().to_string();
        let secret = url.rsplit('/').next().unwrap();
        assert!(url.starts_with("https://balas.example.id/webhooks/fonnte/"), "{url}");
        assert!(secret.len() == 32 && secret.chars().all(|c| c.is_ascii_hexdigit()), "a 128-bit secret in the URL: {url}");
        assert!(!out.contains("fonnte-tok"));

        let missing = app.cli(&["channel", "add", "--tenant", &id, "--provider", "fonnte", "--device", "6281122223333"]);
        assert!(!missing.status.success());
        assert!(String::from_utf8_lossy(&missing.stderr).contains("--token"));

        let bad = app.cli(&["channel", "add", "--tenant", &id, "--provider", "meta", "--phone-number-id", "1"]);
        assert!(!bad.status.success());
        assert!(String::from_utf8_lossy(&bad.stderr).contains("--app-secret"));
    }
}

#[test]
fn startup_names_the_missing_secret() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
        .arg("serve")
        .env_clear()
        .env("BALAS_DATABASE_URL", "postgres://balas_app@127.0.0.1:1/none")
        .env("BALAS_INDEX_KEY", balas::crypto::generate_key())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing required secret BALAS_FERNET_KEYS"), "{stderr}");
}

#[test]
fn a_malformed_master_key_is_named_without_echoing_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
        .args(["tenant", "list"])
        .env_clear()
        .env("BALAS_DATABASE_URL", "sqlite::memory:")
        .env("BALAS_FERNET_KEYS", "definitely-not-a-key")
        .env("BALAS_INDEX_KEY", balas::crypto::generate_key())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("BALAS_FERNET_KEYS") && !stderr.contains("definitely-not-a-key"), "{stderr}");
}

#[test]
fn a_database_whose_key_file_is_lost_is_not_given_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("balas.db");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
            .args(["tenant", "list"])
            .env_clear()
            .env("BALAS_DATABASE_URL", format!("sqlite://{}", db.display()))
            .output()
            .unwrap()
    };
    assert!(run().status.success(), "first run creates the database and its development keys");
    assert!(dir.path().join("balas.db.keys").exists());
    std::fs::remove_file(dir.path().join("balas.db.keys")).unwrap();
    let out = run();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key file"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("balas.db.keys").exists(), "no new keys were written");
}

/// Runs the real binary with only `env` (and `PATH`); kills it and fails after 20 s, so a
/// startup that wrongly succeeds (`serve` would run forever) cannot hang the suite.
fn run_bounded(args: &[&str], env: &[(&str, String)]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BALAS_LISTEN", "127.0.0.1:0")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn balas");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("balas {args:?} was still running after 20 s: it started without configured keys");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    (status, stderr)
}

#[test]
fn serve_refuses_to_generate_keys_when_they_are_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("balas.db");
    let url = format!("sqlite://{}", db.display());
    let (status, stderr) =
        run_bounded(&["serve"], &[("BALAS_DATABASE_URL", url), ("BALAS_FORBID_DEV_KEYS", "1".into())]);
    assert!(!status.success());
    assert!(stderr.contains("missing required secret BALAS_FERNET_KEYS"), "{stderr}");
    assert!(stderr.contains("balas keys generate"), "says how to create keys: {stderr}");
    assert!(!dir.path().join("balas.db.keys").exists(), "no key file was written");
}

#[test]
fn forbidden_development_keys_cover_the_audit_key_and_an_old_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("balas.db");
    let url = format!("sqlite://{}", db.display());
    let (fernet, index) = (balas::crypto::generate_key(), balas::crypto::generate_key());
    let keys = |audit: Option<String>| {
        let mut env = vec![
            ("BALAS_DATABASE_URL", url.clone()),
            ("BALAS_FORBID_DEV_KEYS", "true".to_string()),
            ("BALAS_FERNET_KEYS", fernet.clone()),
            ("BALAS_INDEX_KEY", index.clone()),
        ];
        env.extend(audit.map(|a| ("BALAS_AUDIT_KEY", a)));
        env
    };
    let (status, stderr) = run_bounded(&["serve"], &keys(None));
    assert!(!status.success());
    assert!(
        stderr.contains("missing required secret BALAS_AUDIT_KEY") && stderr.contains("balas keys generate"),
        "{stderr}"
    );
    assert!(!dir.path().join("balas.db.keys").exists(), "no audit key was generated into a key file");

    // A key file beside the database (from an image before the rule) is not used either.
    let old = format!("BALAS_FERNET_KEYS={fernet}\nBALAS_INDEX_KEY={index}\nBALAS_AUDIT_KEY={fernet}\n");
    std::fs::write(dir.path().join("balas.db.keys"), old).unwrap();
    let without_keys = keys(None);
    let (status, stderr) = run_bounded(&["tenant", "list"], &without_keys[..2]);
    assert!(!status.success() && stderr.contains("BALAS_FORBID_DEV_KEYS is set"), "{stderr}");
    std::fs::remove_file(dir.path().join("balas.db.keys")).unwrap();

    let (status, stderr) = run_bounded(&["tenant", "list"], &keys(Some(balas::crypto::generate_key())));
    assert!(status.success(), "configured keys are enough: {stderr}");
    assert!(!dir.path().join("balas.db.keys").exists());
}

#[test]
fn the_image_forbids_development_keys() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    // Instructions with their `\` continuations joined, comments left out.
    let code: Vec<&str> = dockerfile.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    let instructions = code.join("\n").replace("\\\n", " ");
    assert!(
        instructions
            .lines()
            .any(|l| l.starts_with("ENV ") && l.split_whitespace().any(|w| w == "BALAS_FORBID_DEV_KEYS=1")),
        "the image must set BALAS_FORBID_DEV_KEYS=1 in an ENV instruction"
    );
}
