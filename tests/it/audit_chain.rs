//! The audit log's hash chain verifies when intact and names the first edited row.
use balas::audit::{self, Verdict};

use crate::helpers::{Db, customer};
use crate::on_both_databases;

on_both_databases! {
    async fn audit_verify_passes_then_names_the_row_edited_by_the_owner(app) {
        app.send_webhook(&app.text(&customer(1), "wamid.A1", "Jam buka kapan?")).await;
        app.drain().await;
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        let Verdict::Intact { rows, .. } = verdict else { panic!("fresh chain broken: {verdict:?}") };
        assert!(rows >= 8, "every step is audited, got {rows} rows");
        let ok = app.cli(&["audit", "verify"]);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

        // One byte of one row's detail, changed by the owner around the append-only trigger.
        match app.db {
            Db::Sqlite => {
                app.inspect.execute("DROP TRIGGER audit_log_no_update").await;
                app.inspect.execute("UPDATE audit_log SET detail = replace(detail, 'text', 'texT') WHERE seq = 5").await;
            }
            Db::Postgres => {
                app.inspect.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change").await;
                app.inspect.execute("UPDATE audit_log SET detail = replace(detail, 'text', 'texT') WHERE seq = 5").await;
                app.inspect.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change").await;
            }
        }
        let changed = app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%texT%'").await;
        assert_eq!(changed, 1, "the edit must have hit a row");
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Broken { seq: 5, .. }), "{verdict:?}");

        let broken = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug]);
        assert!(!broken.status.success());
        assert!(String::from_utf8_lossy(&broken.stdout).contains("BROKEN at row 5"), "{}", String::from_utf8_lossy(&broken.stdout));
    }

    async fn audit_rows_carry_no_message_text_or_phone(app) {
        let c = customer(7);
        app.send_webhook(&app.text(&c, "wamid.T1", "Ada kopi susu gula aren?")).await;
        app.drain().await;
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        let rows = tx.audit_rows_after(0, 1000).await.unwrap();
        let all = format!("{rows:?}");
        for needle in ["kopi susu", "gula aren", c.phone.as_deref().unwrap(), c.bsuid.as_deref().unwrap(), &c.name] {
            assert!(!all.contains(needle), "audit holds {needle}");
        }
        for action in ["tenant.created", "channel.added", "kb.imported", "contact.created", "message.received", "job.claimed", "reply.decided", "message.sent"] {
            assert!(rows.iter().any(|r| r.action == action), "no {action} row");
        }
    }
}
