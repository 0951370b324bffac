//! The audit chain is anchored in `BALAS_AUDIT_KEY`: whoever can write the database but does
//! not hold the key cannot forge a chain that verifies, nor cut one back below a kept head.
use std::sync::Arc;

use balas::audit::{self, AuditKey, AuditKeys, Verdict};
use balas::store::AuditRow;

use crate::helpers::{Inspector, TestApp, customer};
use crate::on_both_databases;

/// How the attacker recomputes the chain after the edit.
#[derive(Clone, Copy, Debug)]
enum Forgery<'k> {
    /// Plain SHA-256 over every row, as before keys, every row marked unsigned.
    PlainSha256,
    /// HMAC under the attacker's own key, each row still naming the real key's id.
    KeyUnderRealId(&'k AuditKey),
    /// HMAC under the attacker's own key, naming that key.
    OwnKey(&'k AuditKey),
    /// The real key: a control that proves the forging itself is sound.
    RealKey(&'k AuditKey),
}

async fn chain(app: &TestApp) -> Vec<AuditRow> {
    let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
    tx.audit_rows_after(0, 10_000).await.unwrap()
}

/// Lifts the append-only guard as the database owner can.
async fn lift_guard(app: &TestApp) {
    match &app.inspect {
        Inspector::Sqlite(_) => {
            app.inspect.execute("DROP TRIGGER IF EXISTS audit_log_no_update").await;
            app.inspect.execute("DROP TRIGGER IF EXISTS audit_log_no_delete").await;
        }
        Inspector::Postgres(_) => app.inspect.execute("ALTER TABLE audit_log DISABLE TRIGGER USER").await,
    }
}

/// Rewrites every row of `rows` and the head in the database, as the owner.
async fn write_chain(app: &TestApp, rows: &[AuditRow]) {
    let head = rows.last().unwrap();
    let tenant = app.tenant.id;
    let update =
        "UPDATE audit_log SET detail = $1, prev_hash = $2, hash = $3, key_id = $4 WHERE tenant_id = $5 AND seq = $6";
    let set_head = "UPDATE audit_heads SET seq = $1, hash = $2, key_id = $3 WHERE tenant_id = $4";
    let delete_after = "DELETE FROM audit_log WHERE tenant_id = $1 AND seq > $2";
    macro_rules! run {
        ($pool:expr) => {{
            for r in rows {
                sqlx::query(update)
                    .bind(&r.detail)
                    .bind(&r.prev_hash)
                    .bind(&r.hash)
                    .bind(&r.key_id)
                    .bind(tenant)
                    .bind(r.seq)
                    .execute($pool)
                    .await
                    .unwrap();
            }
            sqlx::query(delete_after).bind(tenant).bind(head.seq).execute($pool).await.unwrap();
            sqlx::query(set_head)
                .bind(head.seq)
                .bind(&head.hash)
                .bind(&head.key_id)
                .bind(tenant)
                .execute($pool)
                .await
                .unwrap();
        }};
    }
    match &app.inspect {
        Inspector::Sqlite(p) => run!(p),
        Inspector::Postgres(p) => run!(p),
    }
}

/// One byte of row 5's detail changed, then every hash from the first row on recomputed.
fn forge(rows: &[AuditRow], forgery: Forgery<'_>) -> Vec<AuditRow> {
    let mut out: Vec<AuditRow> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        if row.seq == 5 {
            row.detail = row.detail.replacen('"', "'", 1);
            assert_eq!(row.detail.len(), rows[i].detail.len(), "a one-byte edit");
        }
        row.prev_hash = out.last().map_or(audit::GENESIS_HASH.to_string(), |r| r.hash.clone());
        let (key, key_id) = match forgery {
            Forgery::PlainSha256 => (None, None),
            Forgery::KeyUnderRealId(key) => (Some(key), row.key_id.clone()),
            Forgery::OwnKey(key) | Forgery::RealKey(key) => (Some(key), Some(key.id().to_string())),
        };
        row.key_id = key_id;
        row.hash = audit::row_hash(&row, key);
        out.push(row);
    }
    out
}

on_both_databases! {
    async fn a_one_byte_edit_with_every_hash_recomputed_is_still_caught(app) {
        app.send_webhook(&app.text(&customer(1), "wamid.K1", "Jam buka kapan?")).await;
        app.drain().await;
        let original = chain(&app).await;
        assert!(original.len() >= 8, "{} rows", original.len());
        assert!(original.iter().all(|r| r.key_id.as_deref() == Some(app.state.keys.audit.signing().id())));
        lift_guard(&app).await;
        let attacker = AuditKeys::from_secret(&balas::crypto::generate_key().into()).unwrap();
        let forgeries = [
            (Forgery::PlainSha256, "unsigned rows that no signed audit.anchored row follows"),
            (Forgery::KeyUnderRealId(attacker.signing()), "row content does not match its hash"),
            (Forgery::OwnKey(attacker.signing()), "signed with a key that BALAS_AUDIT_KEY does not hold"),
        ];
        for (forgery, expected) in forgeries {
            write_chain(&app, &forge(&original, forgery)).await;
            let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
            assert!(matches!(verdict, Verdict::Broken { reason, .. } if reason == expected), "{forgery:?}: {verdict:?}");
            let cli = app.cli(&["audit", "verify"]);
            assert!(!cli.status.success(), "{forgery:?}");
            assert!(String::from_utf8_lossy(&cli.stdout).contains("BROKEN"), "{forgery:?}");
        }
        // Control: the same forgery with the real key verifies, so the key alone is what stops it.
        write_chain(&app, &forge(&original, Forgery::RealKey(app.state.keys.audit.signing()))).await;
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
    }

    async fn audit_verify_with_kept_heads_catches_a_chain_cut_back(app) {
        app.send_webhook(&app.text(&customer(2), "wamid.H1", "Ada kopi?")).await;
        app.drain().await;
        let head = app.cli(&["audit", "head"]);
        assert!(head.status.success(), "{}", String::from_utf8_lossy(&head.stderr));
        let heads = String::from_utf8(head.stdout).unwrap();
        let line: serde_json::Value = serde_json::from_str(heads.lines().next().unwrap()).unwrap();
        let rows = chain(&app).await;
        let last = rows.last().unwrap();
        assert_eq!(line["tenant"], app.tenant.id.to_string());
        assert_eq!(line["slug"], app.tenant.slug.as_str());
        assert_eq!((line["seq"].as_i64(), line["hash"].as_str()), (Some(last.seq), Some(last.hash.as_str())));
        assert_eq!(line["key_id"], app.state.keys.audit.signing().id());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("heads.jsonl");
        std::fs::write(&file, &heads).unwrap();
        let file = file.to_str().unwrap();

        // The chain grows past the kept head: still fine.
        app.send_webhook(&app.text(&customer(2), "wamid.H2", "Berapa harganya?")).await;
        app.drain().await;
        let ok = app.cli(&["audit", "verify", "--head", file]);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

        // A recorded head whose tenant the database no longer has: checked when all tenants are.
        let gone = format!("{heads}{}\n", serde_json::json!({"tenant": uuid::Uuid::now_v7(), "seq": 3, "hash": last.hash, "key_id": null}));
        let gone_file = dir.path().join("gone.jsonl");
        std::fs::write(&gone_file, gone).unwrap();
        let gone_file = gone_file.to_str().unwrap();
        let missing = app.cli(&["audit", "verify", "--head", gone_file]);
        assert!(!missing.status.success());
        assert!(String::from_utf8_lossy(&missing.stdout).contains("the database has no such tenant"));
        let one = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug, "--head", gone_file]);
        assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stdout));

        // Rows removed at the end and the head rewritten: the chain alone still verifies.
        lift_guard(&app).await;
        write_chain(&app, &rows[..rows.len() - 3]).await;
        let plain = app.cli(&["audit", "verify"]);
        assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stdout));
        let cut = app.cli(&["audit", "verify", "--head", file]);
        assert!(!cut.status.success());
        let out = String::from_utf8_lossy(&cut.stdout);
        assert!(out.contains("the chain was cut back before the recorded head"), "{out}");
    }

    async fn a_legacy_chain_is_anchored_by_a_signed_checkpoint_row(app) {
        app.send_webhook(&app.text(&customer(3), "wamid.L1", "Buka jam berapa?")).await;
        app.drain().await;
        lift_guard(&app).await;
        // `migrate` (given BALAS_AUDIT_KEY) and `audit head` both anchor a chain from before keys.
        for command in [&["migrate"][..], &["audit", "head"][..]] {
            // A chain from before keys: plain SHA-256, no key ids (as migration 0012 leaves it).
            let mut legacy = chain(&app).await;
            for i in 0..legacy.len() {
                legacy[i].prev_hash = if i == 0 { audit::GENESIS_HASH.to_string() } else { legacy[i - 1].hash.clone() };
                legacy[i].key_id = None;
                legacy[i].hash = audit::row_hash(&legacy[i], None);
            }
            write_chain(&app, &legacy).await;
            let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
            assert!(matches!(verdict, Verdict::Broken { reason: "unsigned rows that no signed audit.anchored row follows", .. }), "{verdict:?}");

            let out = app.cli(command);
            assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
            let rows = chain(&app).await;
            assert_eq!(rows.len(), legacy.len() + 1, "{command:?}: one signed row added");
            let anchor = &rows[legacy.len()];
            assert_eq!(anchor.action, audit::ANCHORED);
            let detail: serde_json::Value = serde_json::from_str(&anchor.detail).unwrap();
            assert_eq!(detail["through_seq"], legacy.len() as i64);
            assert_eq!(detail["hash"], legacy.last().unwrap().hash.as_str());
            let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
            assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
            let again = app.cli(command);
            assert!(again.status.success());
            assert_eq!(chain(&app).await.len(), rows.len(), "{command:?}: an anchored chain needs no second anchor");

            // Rewriting the legacy part (hashes recomputed) fails: the anchor holds its last hash.
            let mut edited = forge(&legacy, Forgery::PlainSha256);
            edited.extend(rows[legacy.len()..].iter().cloned());
            write_chain(&app, &edited).await;
            let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
            assert!(matches!(verdict, Verdict::Broken { seq, .. } if seq == anchor.seq), "{verdict:?}");
            write_chain(&app, &rows).await;
        }
    }

    async fn a_rotated_audit_key_signs_new_rows_after_a_recorded_rotation(app) {
        let old = app.cli_env.iter().find(|(k, _)| k == "BALAS_AUDIT_KEY").unwrap().1.clone();
        let new = balas::crypto::generate_key();
        let both = Arc::new(AuditKeys::from_secret(&format!("{new},{old}").into()).unwrap());
        app.state.store.use_audit_keys(both.clone());
        let before = chain(&app).await.len();
        app.send_webhook(&app.text(&customer(4), "wamid.R1", "Halo")).await;
        app.drain().await;
        let rows = chain(&app).await;
        let rotation = &rows[before];
        assert_eq!(rotation.action, audit::KEY_ROTATED);
        let detail: serde_json::Value = serde_json::from_str(&rotation.detail).unwrap();
        assert_eq!(detail["from_key_id"], app.state.keys.audit.signing().id());
        assert_eq!(detail["to_key_id"], both.signing().id());
        assert!(rows[before..].iter().all(|r| r.key_id.as_deref() == Some(both.signing().id())));
        assert_eq!(rows.iter().filter(|r| r.action == audit::KEY_ROTATED).count(), 1);

        let both_env = format!("{new},{old}");
        let ok = app.cli_with(&[("BALAS_AUDIT_KEY", &both_env)], &["audit", "verify"]);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
        for only in [&new, &old] {
            let missing = app.cli_with(&[("BALAS_AUDIT_KEY", only)], &["audit", "verify"]);
            assert!(!missing.status.success());
            assert!(String::from_utf8_lossy(&missing.stdout).contains("BALAS_AUDIT_KEY does not hold"));
        }
    }
}

#[test]
fn the_audit_key_is_required_on_postgres_and_a_bad_one_is_named_without_echoing_it() {
    let run = |url: &str, audit_key: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_balas"));
        cmd.args(["tenant", "list"])
            .env_clear()
            .env("BALAS_DATABASE_URL", url)
            .env("BALAS_FERNET_KEYS", balas::crypto::generate_key())
            .env("BALAS_INDEX_KEY", balas::crypto::generate_key());
        if let Some(key) = audit_key {
            cmd.env("BALAS_AUDIT_KEY", key);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let stderr = run("postgres://balas_app@127.0.0.1:1/none", None);
    assert!(stderr.contains("missing required secret BALAS_AUDIT_KEY"), "{stderr}");
    let stderr = run("sqlite::memory:", Some("not-an-audit-key"));
    assert!(stderr.contains("BALAS_AUDIT_KEY") && !stderr.contains("not-an-audit-key"), "{stderr}");
}

#[test]
fn a_sqlite_key_file_from_before_audit_keys_gains_one_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("balas.db");
    let keys = dir.path().join("balas.db.keys");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
            .args(["audit", "head"])
            .env_clear()
            .env("BALAS_DATABASE_URL", format!("sqlite://{}", db.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(&keys).unwrap()
    };
    let audit_line = |text: &str| text.lines().find(|l| l.starts_with("BALAS_AUDIT_KEY=")).map(str::to_string);
    let first = run();
    let key = audit_line(&first).expect("a generated audit key");
    assert_eq!(run(), first, "the next run reads the same key and writes nothing");
    // A key file written before audit keys: the other keys stay, an audit key is added.
    let older: String =
        first.lines().filter(|l| !l.starts_with("BALAS_AUDIT_KEY=")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&keys, &older).unwrap();
    let upgraded = run();
    assert!(upgraded.starts_with(&older), "{upgraded}");
    assert!(audit_line(&upgraded).is_some_and(|l| l != key));
    assert_eq!(run(), upgraded);
}
