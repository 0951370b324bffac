//! The owner dashboard over HTTP: strict session cookies, CSRF on every form, login audit,
//! roles, the audited conversation view, escaping, and the staff PIN lock.
use std::collections::HashMap;

use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;

use crate::helpers::TestApp;
use crate::on_both_databases;

pub const PASSWORD: &str = "kopi-susu-gula-aren";
pub const CUSTOMER: &str = "6281234560777";

/// A cookie-keeping HTTP client that does not follow redirects, like a careful browser.
pub struct Visitor {
    http: reqwest::Client,
    pub base: String,
    pub cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Every `Set-Cookie` line naming `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The first hidden CSRF field of the page.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).expect("a csrf field") + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }
}

impl Visitor {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: base.to_string(), cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for line in headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let pair = line.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || line.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        Answer { status, headers, body: response.text().await.unwrap_or_default() }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let r =
            self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let url = format!("{}{path}", self.base);
        let r = self.http.post(url).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.keep(r).await
    }

    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let url = format!("{}{path}", self.base);
        let r = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    /// Logs in through the form; the answer to the POST.
    pub async fn login(&mut self, slug: &str, email: &str, password: &str) -> Answer {
        let csrf = self.get("/dashboard/login").await.csrf();
        self.post("/dashboard/login", &[("csrf", &csrf), ("tenant", slug), ("email", email), ("password", password)])
            .await
    }
}

pub async fn user(app: &TestApp, email: &str, role: Role) -> balas::domain::UserId {
    let new = balas::users::NewUser { email, role, password: PASSWORD };
    balas::users::create(&*app.state.store, &app.state.keys, app.tenant.id, new, "test", app.clock.now())
        .await
        .unwrap()
        .id
}

/// A customer writes `text` (with "komplain" it escalates) and the worker runs.
pub async fn customer_writes(app: &TestApp, wamid: &str, text: &str) {
    let c = FakeCustomer {
        bsuid: Some("ID.777".into()),
        phone: Some(CUSTOMER.into()),
        name: "Rina".into(),
        username: None,
    };
    assert_eq!(app.send_webhook(&app.text(&c, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

async fn signed_in(app: &TestApp, email: &str, role: Role) -> (Visitor, balas::domain::UserId) {
    let id = user(app, email, role).await;
    let mut v = Visitor::new(&app.base);
    let r = v.login(&app.tenant.slug, email, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    (v, id)
}

/// Who sends a request in the CSRF table: the signed-in owner, a locked screen, a login form.
enum Poster {
    Owner,
    Locked,
    Guest,
}

type Fields<'a> = Vec<(&'a str, &'a str)>;

/// The first FAQ entry's save path (`/dashboard/faq/<id>`) on the owner's FAQ page.
fn faq_entry(page: &str) -> String {
    let marker = r#"action="/dashboard/faq/"#;
    let start = page.find(marker).expect("an FAQ entry form") + r#"action=""#.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The first ticket link of the inbox.
fn first_ticket(inbox: &str) -> String {
    let start = inbox.find("/dashboard/tickets/").expect("a ticket link");
    inbox[start..].split('"').next().unwrap().to_string()
}

on_both_databases! {
    async fn dashboard_login_sets_strict_cookies_and_every_failure_is_audited(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let mut v = Visitor::new(&app.base);
        let form = v.get("/dashboard/login").await;
        assert_eq!(form.status, 200);
        assert_eq!(form.headers["cache-control"], "private, no-store");
        assert_eq!(form.headers["x-frame-options"], "DENY");
        let csp = form.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(form.body.contains("Masuk ke dasbor"), "Bahasa Indonesia first");

        let r = v.post("/dashboard/login", &[("tenant", &app.tenant.slug), ("email", "sri@warung.example"), ("password", PASSWORD)]).await;
        assert_eq!(r.status, 403, "a login form without its token is refused");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'auth.login%'").await, 0, "and nothing was tried");

        let wrong = v.login(&app.tenant.slug, "sri@warung.example", "tebak-tebakan-salah").await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("salah") && !wrong.body.contains("tebak-tebakan-salah"), "a generic error, never the password");
        assert!(wrong.set_cookie("balas_session").is_none());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'").await, 1);

        let ok = v.login(&app.tenant.slug, "sri@warung.example", PASSWORD).await;
        assert_eq!((ok.status, ok.location()), (303, "/dashboard"));
        let cookie = ok.set_cookie("balas_session").expect("a session cookie");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/dashboard;"] {
            assert!(cookie.contains(flag), "{flag} in {cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain http public URL: {cookie}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_succeeded'").await, 1);
        let inbox = v.get("/dashboard").await;
        assert_eq!(inbox.status, 200, "{}", inbox.body);
        assert!(v.get("/dashboard?lang=en").await.body.contains("Open tickets"), "the English toggle");
        assert!(v.get("/dashboard").await.body.contains("Open tickets"), "remembered in a cookie");

        let logout = v.post("/dashboard/logout", &[("csrf", &inbox.csrf())]).await;
        assert_eq!((logout.status, logout.location()), (303, "/dashboard/login"));
        assert_eq!(v.get("/dashboard").await.location(), "/dashboard/login", "the jti is revoked");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'token.revoked'").await, 1);

        let https = app.serve_with(|c| c.public_url = "https://balas.example".into()).await;
        let mut v = Visitor::new(&https.base);
        let ok = v.login(&app.tenant.slug, "sri@warung.example", PASSWORD).await;
        assert!(ok.set_cookie("balas_session").unwrap().contains("; Secure"), "Secure behind an https public URL");
    }

    async fn the_inbox_warns_when_owner_notices_cannot_go_as_templates_or_the_template_cap_is_reached(app) {
        let (mut v, _) = signed_in(&app, "sri@warung.example", Role::Owner).await;
        let inbox = v.get("/dashboard").await;
        assert!(inbox.body.contains("id=\"templates\"") && inbox.body.contains("balas doctor"), "{}", inbox.body);
        assert!(inbox.body.contains("owner_escalation · missing"), "{}", inbox.body);
        let channel = app.channel.id.to_string();
        for (purpose, status) in [("owner_escalation", "paused"), ("owner_reminder", "approved")] {
            let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &channel, "--purpose", purpose, "--status", status]);
            assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
        }
        let inbox = v.get("/dashboard").await;
        assert!(inbox.body.contains("owner_escalation · paused") && !inbox.body.contains("owner_reminder"), "{}", inbox.body);
        let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &channel, "--purpose", "owner_escalation", "--status", "approved"]);
        assert!(set.status.success());
        assert!(!v.get("/dashboard").await.body.contains("id=\"templates\""), "no banner once every template is approved");

        // The month's template cap reached: the inbox says so.
        let cap = app.cli(&["tenant", "set", "--tenant", &app.tenant.slug, "--template-cap", "1"]);
        assert!(cap.status.success(), "{}", String::from_utf8_lossy(&cap.stderr));
        assert!(!v.get("/dashboard").await.body.contains("id=\"template-cap\""));
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        tx.record_template_send(app.channel.id, "owner_escalation", "utility", app.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let inbox = v.get("/dashboard").await;
        assert!(inbox.body.contains("id=\"template-cap\"") && inbox.body.contains("(1/1)"), "{}", inbox.body);
    }

    async fn dashboard_every_post_route_refuses_a_missing_or_wrong_csrf_token(app) {
        customer_writes(&app, "wamid.DC1", "Saya mau komplain").await;
        let (mut v, _) = signed_in(&app, "sri@warung.example", Role::Owner).await;
        let inbox = v.get("/dashboard").await;
        let ticket = first_ticket(&inbox.body);
        let csrf = inbox.csrf();
        assert_eq!(v.post("/dashboard/pin", &[("csrf", &csrf), ("pin", "482913")]).await.status, 303);
        let made = v.post("/dashboard/faq", &[("csrf", &csrf), ("question", "Jam buka?"), ("answer", "08.00-21.00")]).await;
        assert_eq!(made.status, 303);
        let entry = faq_entry(&v.get("/dashboard/faq").await.body);
        // A second session of the same owner, locked: the unlock form is a POST route too.
        let mut locked = Visitor::new(&app.base);
        assert_eq!(locked.login(&app.tenant.slug, "sri@warung.example", PASSWORD).await.status, 303);
        let locked_csrf = locked.get("/dashboard/pin").await.csrf();
        assert_eq!(locked.post("/dashboard/lock", &[("csrf", &locked_csrf)]).await.location(), "/dashboard/unlock");
        // A visitor holding a login form's cookie, for the login route.
        let mut guest = Visitor::new(&app.base);
        assert_eq!(guest.get("/dashboard/login").await.status, 200);

        let audit = app.inspect.scalar("SELECT COUNT(*) FROM audit_log").await;
        let revoked = app.inspect.scalar("SELECT COUNT(*) FROM revoked_tokens").await;
        let ticket_status = app.inspect.text("SELECT status FROM escalations").await;
        let faq = app.inspect.scalar("SELECT COUNT(*) FROM kb_entries").await;
        let sent = app.sent_to(CUSTOMER).len();
        let settings = [
            ("name", "Dibajak"), ("description", "x"), ("address", "x"), ("opening_hours", "x"), ("business_hours", ""),
            ("timezone", "Asia/Jayapura"), ("tone", "x"), ("escalation_keywords", "x"), ("link_hosts", ""), ("digest_time", "01:00"),
            ("language", "en"), ("max_bot_turns", "1"), ("renotify_minutes", "1"),
        ];
        let faq_fields = [("question", "Dibajak?"), ("answer", "Ya")];
        // (who posts, the path, the fields besides `csrf`)
        let routes: Vec<(Poster, String, Fields)> = vec![
            (Poster::Owner, "/dashboard/lock".into(), vec![]),
            (Poster::Owner, "/dashboard/logout".into(), vec![]),
            (Poster::Owner, "/dashboard/pin".into(), vec![("pin", "111111")]),
            (Poster::Owner, "/dashboard/settings".into(), settings.to_vec()),
            (Poster::Owner, "/dashboard/faq".into(), faq_fields.to_vec()),
            (Poster::Owner, entry.clone(), faq_fields.to_vec()),
            (Poster::Owner, format!("{entry}/delete"), vec![]),
            (Poster::Owner, format!("{ticket}/reply"), vec![("text", "Halo kak")]),
            (Poster::Owner, format!("{ticket}/senddraft"), vec![]),
            (Poster::Owner, format!("{ticket}/takeover"), vec![]),
            (Poster::Owner, format!("{ticket}/handback"), vec![]),
            (Poster::Owner, format!("{ticket}/resolve"), vec![]),
            (Poster::Locked, "/dashboard/unlock".into(), vec![("pin", "482913")]),
            (Poster::Locked, "/dashboard/logout".into(), vec![]),
            (Poster::Guest, "/dashboard/login".into(), vec![("tenant", app.tenant.slug.as_str()), ("email", "sri@warung.example"), ("password", PASSWORD)]),
        ];
        let wrong = "0".repeat(64);
        for (who, path, fields) in &routes {
            for token in [None, Some(wrong.as_str())] {
                let mut form = fields.clone();
                form.extend(token.map(|t| ("csrf", t)));
                let visitor = match who { Poster::Owner => &mut v, Poster::Locked => &mut locked, Poster::Guest => &mut guest };
                let r = visitor.post(path, &form).await;
                assert_eq!(r.status, 403, "POST {path} with csrf {token:?}: {}", r.body);
                assert!(r.body.contains("Formulir kedaluwarsa"), "the CSRF refusal page for {path}");
            }
        }

        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log").await, audit, "no audited action happened");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM revoked_tokens").await, revoked, "no token or lock was spent");
        assert_eq!(app.inspect.text("SELECT status FROM escalations").await, ticket_status, "the ticket did not move");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries").await, faq, "no FAQ entry added or deleted");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries WHERE question = 'Dibajak?'").await, 0, "none edited");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM tenants WHERE name = 'Dibajak'").await, 0, "the settings are unchanged");
        assert_eq!(app.sent_to(CUSTOMER).len(), sent, "no reply went out");
        assert_eq!(v.get("/dashboard").await.status, 200, "the owner's session is still valid");
        let unlock_csrf = locked.get("/dashboard/unlock").await.csrf();
        let unlocked = locked.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!(unlocked.location(), "/dashboard", "the PIN and the lock are unchanged");
    }

    async fn dashboard_forms_are_validated_and_oversized_bodies_get_413(app) {
        let (mut v, _) = signed_in(&app, "sri@warung.example", Role::Owner).await;
        let csrf = v.get("/dashboard/faq").await.csrf();
        let entries = app.inspect.scalar("SELECT COUNT(*) FROM kb_entries").await;
        let r = v.post("/dashboard/faq", &[("csrf", &csrf), ("question", "Jam buka?"), ("answer", "Setiap hari 08.00-21.00"), ("keywords", "jam,buka")]).await;
        assert_eq!((r.status, r.location()), (303, "/dashboard/faq?ok=saved"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries").await, entries + 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'kb.created' AND actor LIKE 'user:%'").await, 1);
        let empty = v.post("/dashboard/faq", &[("csrf", &csrf), ("question", "  "), ("answer", "x")]).await;
        assert_eq!(empty.status, 400, "validation errors re-render the form");

        let not_a_form = v.post_raw("/dashboard/faq", "application/json", b"{}".to_vec()).await;
        assert_eq!(not_a_form.status, 400);
        assert!(not_a_form.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        for size in [32 * 1024, 100_000] {
            let huge = format!("csrf={csrf}&question=q&answer={}", "a".repeat(size));
            let r = v.post_raw("/dashboard/faq", "application/x-www-form-urlencoded", huge.into_bytes()).await;
            assert_eq!(r.status, 413, "a form over 32 KiB ({size} bytes of answer) is too large, like the API's bodies");
            assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"), "an HTML page");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries").await, entries + 1, "nothing was stored");
        assert_eq!(v.post_raw("/dashboard/faq", "application/x-www-form-urlencoded", b"csrf=a&csrf=b".to_vec()).await.status, 400);
        assert_eq!(v.get("/dashboard/no-such-page").await.status, 404);
    }

    async fn dashboard_ticket_view_is_audited_escaped_and_acts_through_the_state_machine(app) {
        customer_writes(&app, "wamid.DT1", "Saya mau komplain <script>alert(1)</script>").await;
        let (mut v, staff) = signed_in(&app, "kasir@warung.example", Role::Staff).await;
        let inbox = v.get("/dashboard").await;
        assert!(inbox.body.contains("#1") && inbox.body.contains("Rina (+62*******0777)"), "{}", inbox.body);
        assert!(!inbox.body.contains(CUSTOMER), "the number is masked");
        let ticket = first_ticket(&inbox.body);
        let page = v.get(&ticket).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped: {}", page.body);
        assert!(!page.body.contains("<script>alert"), "never raw");
        let read = format!("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read' AND actor = 'user:{staff}'");
        let read: &'static str = Box::leak(read.into_boxed_str());
        assert_eq!(app.inspect.scalar(read).await, 1, "the view is audited naming the user");

        let csrf = page.csrf();
        let r = v.post(&format!("{ticket}/reply"), &[("csrf", &csrf), ("text", "Maaf kak, kami cek sekarang")]).await;
        assert_eq!(r.status, 303);
        assert!(r.location().ends_with("?ok=reply"));
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some("Maaf kak, kami cek sekarang"));
        assert!(v.get(r.location()).await.body.contains("Balasan dikirim"));

        assert_eq!(v.post(&format!("{ticket}/resolve"), &[("csrf", &csrf)]).await.status, 303);
        let again = v.post(&format!("{ticket}/resolve"), &[("csrf", &csrf)]).await;
        assert!(again.location().ends_with("?err=ticket_closed"), "{}", again.location());
        let shown = v.get(again.location()).await;
        assert_eq!(shown.status, 200);
        assert!(shown.body.contains("sudah ditutup"), "a message, not a 500");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('escalation.replied', 'escalation.resolved') AND actor LIKE 'user:%'").await, 2);

        assert_eq!(v.get("/dashboard/tickets/not-a-uuid").await.status, 404);
        assert_eq!(v.get(&format!("/dashboard/tickets/{}", uuid::Uuid::now_v7())).await.status, 404);
        assert_eq!(v.post(&format!("{ticket}/explode"), &[("csrf", &csrf)]).await.status, 404);

        let settings = balas::tenants::TenantSettings::default();
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &settings, app.clock.now()).await.unwrap();
        let new = balas::users::NewUser { email: "b@lain.example", role: Role::Owner, password: PASSWORD };
        balas::users::create(&*app.state.store, &app.state.keys, other.id, new, "test", app.clock.now()).await.unwrap();
        let mut b = Visitor::new(&app.base);
        assert_eq!(b.login(&other.slug, "b@lain.example", PASSWORD).await.status, 303);
        assert_eq!(b.get(&ticket).await.status, 404, "another tenant's ticket does not exist for B");
        let b_csrf = b.get("/dashboard").await.csrf();
        assert_eq!(b.post(&format!("{ticket}/reply"), &[("csrf", &b_csrf), ("text", "hai")]).await.status, 404);
    }

    async fn dashboard_sends_the_checked_suggested_reply_with_one_button(app) {
        // A weak FAQ match hands over with the entry's answer as the suggested reply.
        customer_writes(&app, "wamid.DS1", "Brp ongkir ke Bekasi kak?").await;
        let draft = "Ongkir dalam kota Yogyakarta Rp10.000. Luar kota mengikuti tarif JNE REG, dihitung saat checkout.";
        let (mut v, _) = signed_in(&app, "kasir@warung.example", Role::Staff).await;
        let ticket = first_ticket(&v.get("/dashboard").await.body);
        let page = v.get(&ticket).await;
        assert!(page.body.contains(r#"id="senddraft""#) && page.body.contains(draft), "{}", page.body);
        let r = v.post(&format!("{ticket}/senddraft"), &[("csrf", &page.csrf())]).await;
        assert_eq!(r.status, 303);
        assert!(r.location().ends_with("?ok=senddraft"), "{}", r.location());
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some(draft), "the suggested reply, as shown");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.replied' AND actor LIKE 'user:%'").await, 1);

        // Once the ticket is answered, the suggestion is not offered again.
        let page = v.get(&ticket).await;
        assert!(!page.body.contains(r#"id="senddraft""#), "{}", page.body);
    }

    async fn dashboard_roles_keep_analytics_from_content_and_staff_from_settings(app) {
        customer_writes(&app, "wamid.DR1", "Saya mau komplain").await;
        let (mut owner, _) = signed_in(&app, "owner@warung.example", Role::Owner).await;
        let ticket = first_ticket(&owner.get("/dashboard").await.body);

        let (mut analyst, _) = signed_in(&app, "angka@warung.example", Role::Analytics).await;
        assert_eq!(analyst.get("/dashboard").await.location(), "/dashboard/analytics");
        assert_eq!(analyst.get(&ticket).await.status, 403);
        assert_eq!(analyst.get("/dashboard/faq").await.status, 403);
        assert_eq!(analyst.get("/dashboard/settings").await.status, 403);
        balas::analytics::rollup::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap();
        app.drain().await;
        let charts = analyst.get("/dashboard/analytics").await;
        assert_eq!(charts.status, 200);
        assert!(charts.body.contains("<svg") && charts.body.contains("Percakapan"), "{}", charts.body);
        assert!(charts.body.contains("keyword"), "the complaint's reason is listed: {}", charts.body);
        assert!(!charts.body.contains("komplain"), "no message text in analytics");
        assert_eq!(analyst.get("/dashboard/analytics?days=365&lang=en").await.status, 200);
        assert_eq!(analyst.get("/dashboard/analytics?days=7").await.status, 400);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read'").await, 0);

        let owner_csrf = owner.get("/dashboard/faq").await.csrf();
        let made = owner.post("/dashboard/faq", &[("csrf", &owner_csrf), ("question", "Jam buka?"), ("answer", "08.00-21.00")]).await;
        assert_eq!(made.status, 303);
        let entry = faq_entry(&owner.get("/dashboard/faq").await.body);

        let (mut staff, _) = signed_in(&app, "kasir@warung.example", Role::Staff).await;
        let faq = staff.get("/dashboard/faq").await;
        assert_eq!(faq.status, 200, "staff may read the FAQ");
        assert!(faq.body.contains("Jam buka?"), "{}", faq.body);
        assert!(!faq.body.contains(r#"action="/dashboard/faq"#), "but get no forms to change it: {}", faq.body);
        let csrf = staff.get("/dashboard").await.csrf();
        assert_eq!(staff.get("/dashboard/settings").await.status, 403);
        assert_eq!(staff.get("/dashboard/analytics").await.status, 403, "aggregates are for owners and analytics readers");
        // A valid CSRF token, so each 403 below is the role's refusal and not the CSRF check's.
        let kb_rows = "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'kb.%'";
        let kb_before = app.inspect.scalar(kb_rows).await;
        let refusals = [
            ("/dashboard/settings".to_string(), vec![("csrf", csrf.as_str()), ("name", "Dibajak")]),
            ("/dashboard/faq".to_string(), vec![("csrf", csrf.as_str()), ("question", "Dibajak?"), ("answer", "Ya")]),
            (entry.clone(), vec![("csrf", csrf.as_str()), ("question", "Dibajak?"), ("answer", "Ya")]),
            (format!("{entry}/delete"), vec![("csrf", csrf.as_str())]),
        ];
        for (path, form) in &refusals {
            let r = staff.post(path, form).await;
            assert_eq!(r.status, 403, "staff POST {path}");
            assert!(r.body.contains("tidak punya akses") && !r.body.contains("Formulir kedaluwarsa"), "a role refusal: {}", r.body);
        }
        assert_eq!(app.inspect.scalar(kb_rows).await, kb_before, "the FAQ is owner-only, as on /api/v1/kb");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries WHERE question = 'Dibajak?'").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM tenants WHERE name = 'Dibajak'").await, 0);

        let form = owner.get("/dashboard/settings").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        let fields = |digest: &'static str| vec![
            ("name", "Warung Sri"), ("description", "Kopi & kue"), ("address", "Jl. Melati 1"), ("opening_hours", "08.00-21.00"),
            ("business_hours", "08:00-21:00"), ("timezone", "Asia/Makassar"), ("tone", "ramah"), ("escalation_keywords", "komplain,refund"),
            ("link_hosts", "warungsri.id"), ("digest_time", digest), ("language", "en"), ("max_bot_turns", "6"), ("renotify_minutes", "20"),
            ("response_target_minutes", "90"), ("resume_after_hours", "24"),
        ];
        let mut bad = fields("25:99");
        bad.push(("csrf", &csrf));
        let refused = owner.post("/dashboard/settings", &bad).await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("digest time"), "the validation message: {}", refused.body);
        let mut shortener = fields("06:30");
        shortener.retain(|(k, _)| *k != "link_hosts");
        shortener.extend([("link_hosts", "bit.ly"), ("csrf", csrf.as_str())]);
        let refused = owner.post("/dashboard/settings", &shortener).await;
        assert!(refused.status == 400 && refused.body.contains("link_hosts"), "{}", refused.body);
        let mut good = fields("06:30");
        good.push(("csrf", &csrf));
        assert_eq!(owner.post("/dashboard/settings", &good).await.location(), "/dashboard/settings?ok=saved");
        assert_eq!(app.inspect.text("SELECT name FROM tenants WHERE slug <> 'x' ORDER BY created_at LIMIT 1").await.as_deref(), Some("Warung Sri"));
        assert_eq!(app.inspect.text("SELECT link_hosts FROM tenants ORDER BY created_at LIMIT 1").await.as_deref(), Some("warungsri.id"));
        assert_eq!(app.inspect.scalar("SELECT CAST(response_target_minutes AS BIGINT) FROM tenants ORDER BY created_at LIMIT 1").await, 90, "the response target is set from the form");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.settings_changed' AND actor LIKE 'user:%'").await, 1);

        // The form sends every field; the audit row names only those that changed.
        let changed = "SELECT detail FROM audit_log WHERE action = 'tenant.settings_changed' ORDER BY seq DESC LIMIT 1";
        let mut tone = fields("06:30");
        tone.retain(|(k, _)| *k != "tone");
        tone.extend([("tone", "santai"), ("csrf", csrf.as_str())]);
        assert_eq!(owner.post("/dashboard/settings", &tone).await.location(), "/dashboard/settings?ok=saved");
        let detail: serde_json::Value = serde_json::from_str(&app.inspect.text(changed).await.unwrap()).unwrap();
        assert_eq!(detail, serde_json::json!({ "fields": ["tone"], "name_changed": false }));
        assert_eq!(owner.post("/dashboard/settings", &tone).await.location(), "/dashboard/settings?ok=saved");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.settings_changed'").await, 2, "an unchanged form audits nothing");
        // Photos and voice notes: understood by AI, handed over when that fails.
        tone.push(("media", "understand_escalate"));
        assert_eq!(owner.post("/dashboard/settings", &tone).await.location(), "/dashboard/settings?ok=saved");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM tenants WHERE understand_media AND media_policy = 'escalate'").await, 1);
        assert!(owner.get("/dashboard/settings").await.body.contains(r#"<option value="understand_escalate" selected>"#));
    }

    async fn dashboard_pin_lock_holds_on_the_server_and_wrong_pins_lock_out(app) {
        let (mut v, staff) = signed_in(&app, "kasir@warung.example", Role::Staff).await;
        let csrf = v.get("/dashboard/pin").await.csrf();
        assert_eq!(v.post("/dashboard/pin", &[("csrf", &csrf), ("pin", "12ab")]).await.status, 400);
        assert_eq!(v.post("/dashboard/pin", &[("csrf", &csrf), ("pin", "482913")]).await.location(), "/dashboard/pin?ok=pin");

        let old_session = v.cookies["balas_session"].clone();
        let locked = v.post("/dashboard/lock", &[("csrf", &csrf)]).await;
        assert_eq!((locked.status, locked.location()), (303, "/dashboard/unlock"));
        assert_eq!(v.get("/dashboard").await.location(), "/dashboard/unlock", "every page leads to the PIN");
        assert_eq!(v.get("/dashboard/faq").await.location(), "/dashboard/unlock");
        let mut thief = Visitor::new(&app.base);
        thief.cookies.insert("balas_session".into(), old_session);
        assert_eq!(thief.get("/dashboard").await.location(), "/dashboard/login", "the locked token is revoked, cookie or not");

        let form = v.get("/dashboard/unlock").await;
        let unlock_csrf = form.csrf();
        assert_eq!(v.post("/dashboard/unlock", &[("pin", "482913")]).await.status, 403, "the unlock form has its token too");
        let wrong = v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "000000")]).await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("PIN salah"));
        let failed = format!("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_failed' AND actor = 'user:{staff}'");
        assert_eq!(app.inspect.scalar(Box::leak(failed.clone().into_boxed_str())).await, 1);
        let ok = v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!((ok.status, ok.location()), (303, "/dashboard"));
        assert_eq!(v.get("/dashboard").await.status, 200, "a fresh session");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_unlocked'").await, 1);

        let csrf = v.get("/dashboard").await.csrf();
        v.post("/dashboard/lock", &[("csrf", &csrf)]).await;
        let unlock_csrf = v.get("/dashboard/unlock").await.csrf();
        for _ in 0..4 {
            assert_eq!(v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "111111")]).await.status, 401);
        }
        assert_eq!(v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "111111")]).await.status, 429);
        let still = v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!(still.status, 429, "even the right PIN waits 15 minutes");
        app.clock.advance(chrono::Duration::minutes(16));
        assert_eq!(v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await.location(), "/dashboard");
        assert_eq!(app.inspect.scalar(Box::leak(failed.into_boxed_str())).await, 7);
    }

    async fn dashboard_lock_cookie_unlocks_once_and_never_for_a_disabled_user(app) {
        let (mut v, staff) = signed_in(&app, "kasir@warung.example", Role::Staff).await;
        let csrf = v.get("/dashboard/pin").await.csrf();
        assert_eq!(v.post("/dashboard/pin", &[("csrf", &csrf), ("pin", "482913")]).await.status, 303);
        assert_eq!(v.post("/dashboard/lock", &[("csrf", &csrf)]).await.location(), "/dashboard/unlock");
        let lock_cookie = v.cookies["balas_lock"].clone();
        let unlock_csrf = v.get("/dashboard/unlock").await.csrf();
        let ok = v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!((ok.status, ok.location()), (303, "/dashboard"), "the first unlock works");
        assert_eq!(v.get("/dashboard").await.status, 200);

        // Someone who copied the lock cookie replays it with the right PIN.
        let mut replay = Visitor::new(&app.base);
        replay.cookies.insert("balas_lock".into(), lock_cookie);
        assert_eq!(replay.get("/dashboard/unlock").await.location(), "/dashboard/login", "a spent lock shows no PIN form");
        let again = replay.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!((again.status, again.location()), (303, "/dashboard/login"), "a spent lock is refused like an invalid one");
        assert!(again.set_cookie("balas_session").is_none_or(|c| c.contains("Max-Age=0")), "no session is minted");
        assert!(!replay.cookies.contains_key("balas_session") && !replay.cookies.contains_key("balas_lock"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_unlocked'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_failed'").await, 0, "no PIN was tried");

        // Logging out from the lock screen spends the lock too.
        let csrf = v.get("/dashboard").await.csrf();
        v.post("/dashboard/lock", &[("csrf", &csrf)]).await;
        let lock_cookie = v.cookies["balas_lock"].clone();
        let unlock_csrf = v.get("/dashboard/unlock").await.csrf();
        assert_eq!(v.post("/dashboard/logout", &[("csrf", &unlock_csrf)]).await.location(), "/dashboard/login");
        let mut replay = Visitor::new(&app.base);
        replay.cookies.insert("balas_lock".into(), lock_cookie);
        assert_eq!(replay.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await.location(), "/dashboard/login");

        // A user disabled while locked cannot unlock, even with the right PIN.
        assert_eq!(v.login(&app.tenant.slug, "kasir@warung.example", PASSWORD).await.status, 303);
        let csrf = v.get("/dashboard").await.csrf();
        v.post("/dashboard/lock", &[("csrf", &csrf)]).await;
        let unlock_csrf = v.get("/dashboard/unlock").await.csrf();
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        assert!(tx.disable_user(staff, app.clock.now()).await.unwrap());
        tx.commit().await.unwrap();
        let refused = v.post("/dashboard/unlock", &[("csrf", &unlock_csrf), ("pin", "482913")]).await;
        assert_eq!((refused.status, refused.location()), (303, "/dashboard/login"));
        assert!(!v.cookies.contains_key("balas_session"), "no session for a disabled user");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_failed' AND detail LIKE '%user_disabled%'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.pin_unlocked'").await, 1);
    }
}
