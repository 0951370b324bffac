//! `GET /` and `GET|POST /dashboard/setup`: the root leads to the login, or, on a new install,
//! to the first-run page. That page says how to set `BALAS_JWT_SECRET` when it is missing and
//! which commands create the first tenant and owner; with the token `serve` wrote beside the
//! database, it creates them itself and signs the owner in.
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::PageError;
use super::form::Form;
use super::i18n::Lang;
use super::layout::{Flash, bare};
use super::login::{lang_of, signed_in};
use crate::app::AppState;
use crate::auth::{Login, authenticate};
use crate::client_ip::ClientAddr;
use crate::setup::{FirstOwner, Install, create_first};
use crate::usecase::UseCaseError;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(root)).route("/dashboard/setup", get(show).post(submit))
}

/// Ready installs go to the dashboard (its login when signed out); new ones to the setup page.
async fn root(State(state): State<AppState>) -> Result<Response, PageError> {
    let install = state.first_run.install(&state.core).await?;
    let to = if install == Install::Ready && state.token_keys.is_some() { "/dashboard" } else { "/dashboard/setup" };
    Ok(Redirect::to(to).into_response())
}

async fn show(
    State(state): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let install = state.first_run.install(&state.core).await?;
    if install == Install::Ready && state.token_keys.is_some() {
        return Ok(Redirect::to("/dashboard/login").into_response());
    }
    Ok(render(&state, lang_of(lang, &headers), install, StatusCode::OK, None, ("", "")))
}

/// The page for `install`; `kept` is the business name and e-mail typed before a refusal.
fn render(
    state: &AppState,
    lang: Lang,
    install: Install,
    status: StatusCode,
    flash: Option<Flash>,
    kept: (&str, &str),
) -> Response {
    let t = |k| lang.t(k);
    let form = state.token_keys.is_some() && install == Install::NoTenant && state.first_run.is_armed();
    let body = html! {
        @if state.token_keys.is_none() {
            section.card #jwt-missing {
                h2 { (t("setup.jwt_title")) }
                p { (t("setup.jwt_why")) }
                pre { code { "export BALAS_JWT_SECRET=\"$(balas keys generate)\"" } }
                p { (t("setup.jwt_then")) }
            }
        }
        @if install != Install::Ready {
            section.card #commands {
                h2 { (t("setup.commands_title")) }
                p { (t("setup.commands_why")) }
                pre { code { (commands(install)) } }
            }
        }
        @if form {
            (setup_form(lang, state.first_run.file_name().unwrap_or_default(), kept))
        }
    };
    bare(lang, status, t("setup.title"), flash, body)
}

/// The commands that make the install ready from where it stands.
fn commands(install: Install) -> String {
    let tenant = "balas tenant create --name \"Warung Kopi Bu Sri\" --owner-phone +628…\n";
    let user = "printf '%s\\n' 'kata-sandi-panjang' | balas user create --tenant warung-kopi-bu-sri \\\n    --email sri@example.com --role owner --password-stdin";
    if install == Install::NoTenant { format!("{tenant}{user}") } else { user.to_string() }
}

fn setup_form(lang: Lang, file: String, (business, email): (&str, &str)) -> Markup {
    let t = |k| lang.t(k);
    html! {
        form.card #setup method="post" action="/dashboard/setup" {
            h2 { (t("setup.form_title")) }
            p { (t("setup.token_where")) " " code #token-file { (file) } }
            label for="token" { (t("setup.token")) }
            input #token type="password" name="token" required autocomplete="off";
            label for="business" { (t("setup.business")) }
            input #business type="text" name="business" value=(business) required maxlength="200";
            label for="email" { (t("login.email")) }
            input #email type="email" name="email" value=(email) required autocomplete="username";
            label for="password" { (t("setup.password")) }
            input #password type="password" name="password" required minlength="10" autocomplete="new-password";
            label for="language" { (t("setup.language")) }
            select #language name="language" {
                option value="id" selected[lang == Lang::Id] { "Bahasa Indonesia" }
                option value="en" selected[lang == Lang::En] { "English" }
            }
            button #create type="submit" { (t("setup.submit")) }
        }
    }
}

/// Creates the first tenant and owner, then signs the owner in. No CSRF cookie: the one-time
/// token is a secret no other site knows, and a forged form without it changes nothing; a
/// browser's cross-site post is refused before it counts against the login flood guard.
async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let lang = lang_of(lang, &headers);
    let form = Form::read(&headers, body).await?;
    // Another site's form is refused outright, so it cannot spend this client's login budget.
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return Err(PageError::csrf());
    }
    let back = || Ok(Redirect::to("/dashboard/setup").into_response());
    // Only an install waiting for its first tenant, with a token armed, takes the form.
    let Some(tokens) = state.token_keys.clone() else { return back() };
    if !state.first_run.is_armed() || state.first_run.install(&state.core).await? != Install::NoTenant {
        return back();
    }
    let (business, email) = (form.required("business")?, form.required("email")?);
    let password = form.required("password")?;
    let refuse = |status, key: &'static str| {
        let flash = Some(Flash::Error(lang.t(key).into()));
        Ok(render(&state, lang, Install::NoTenant, status, flash, (business, email)))
    };
    // The login's flood guard: guessing the token is as costly as guessing a password.
    if state.limits.login_flood(client).is_err() {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "login.throttled");
    }
    let input = FirstOwner {
        token: form.required("token")?,
        business,
        email,
        password,
        language: form.get("language").unwrap_or("id"),
    };
    let tenant = match create_first(&state.core, &state.first_run, input).await {
        Ok(tenant) => tenant,
        Err(UseCaseError::Invalid { .. }) => return refuse(StatusCode::BAD_REQUEST, "setup.invalid"),
        Err(UseCaseError::Forbidden { .. }) => return refuse(StatusCode::FORBIDDEN, "setup.wrong_token"),
        Err(UseCaseError::Conflict { .. }) => return back(),
        Err(e) => return Err(e.into()),
    };
    let login = Login { client, tenant: &tenant.slug, email, password };
    let ok = authenticate(&*state.store, &state.keys, &tokens, &*state.clock, login)
        .await
        .map_err(|e| PageError::from(crate::error::ApiError::from(e)))?;
    Ok(signed_in(&state, &ok))
}
