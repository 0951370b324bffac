//! `GET|POST /dashboard/settings` (owners): the common settings, checked and saved by the
//! `tenants::change_settings` (the same validation and `tenant.settings_changed` audit as PATCH);
//! operator-only limits are shown, not offered as inputs.
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde_json::{Map, Value};

use super::PageError;
use super::form::CheckedForm;
use super::layout::{Flash, flash_from_query, page};
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::tenants::{self, OPERATOR_ONLY};
use crate::usecase::UseCaseError;

/// Free-text settings the form edits, in the order shown.
const TEXT_FIELDS: &[&str] = &[
    "name",
    "description",
    "address",
    "opening_hours",
    "business_hours",
    "timezone",
    "tone",
    "escalation_keywords",
    "link_hosts",
    "digest_time",
];
/// What happens to a customer's photo or voice note: (choice, `media_policy`, `understand_media`).
const MEDIA_CHOICES: [(&str, &str, bool); 4] = [
    ("reply", "reply", false),
    ("escalate", "escalate", false),
    ("understand_reply", "reply", true),
    ("understand_escalate", "escalate", true),
];

/// Whole-number settings.
const NUMBER_FIELDS: &[&str] = &["max_bot_turns", "renotify_minutes", "response_target_minutes", "resume_after_hours"];

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/settings", get(show).post(save))
}

/// The form filled with `values` (field → text), as stored or as just typed.
fn render(session: &Session, status: StatusCode, flash: Option<Flash>, values: &Map<String, Value>) -> Response {
    let t = |k: &str| session.lang.t(label_key(k));
    let text = |k: &str| match values.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let language = text("language");
    let body = html! {
        form.card #settings method="post" action="/dashboard/settings" {
            input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
            @for field in TEXT_FIELDS {
                label for=(field) { (t(field)) }
                @if *field == "description" {
                    textarea id=(field) name=(field) maxlength="4000" { (text(field)) }
                } @else {
                    input id=(field) type="text" name=(field) value=(text(field)) maxlength="1000";
                }
            }
            label for="language" { (t("language")) }
            select #language name="language" {
                option value="id" selected[language != "en"] { "Bahasa Indonesia" }
                option value="en" selected[language == "en"] { "English" }
            }
            label for="media" { (session.lang.t("settings.media")) }
            select #media name="media" {
                @for (choice, policy, understand) in MEDIA_CHOICES {
                    @let chosen = text("media_policy") == policy && values.get("understand_media") == Some(&Value::Bool(understand));
                    option value=(choice) selected[chosen] { (session.lang.t(media_label(choice))) }
                }
            }
            @for field in NUMBER_FIELDS {
                label for=(field) { (t(field)) }
                input id=(field) type="number" name=(field) value=(text(field)) min="0";
            }
            button #save type="submit" { (t("save")) }
        }
        // Shown, never an input: only the operator changes these (`balas tenant set`).
        section.card #operator-limits {
            @for field in OPERATOR_ONLY {
                p { (t(field)) ": " strong { (text(field)) } }
            }
            p { small { (session.lang.t("settings.operator_only")) } }
        }
    };
    page(session, status, session.lang.t("settings.title"), flash, body)
}

fn media_label(choice: &str) -> &'static str {
    match choice {
        "escalate" => "settings.media.escalate",
        "understand_reply" => "settings.media.understand_reply",
        "understand_escalate" => "settings.media.understand_escalate",
        _ => "settings.media.reply",
    }
}

fn label_key(field: &str) -> &'static str {
    match field {
        "name" => "settings.name",
        "language" => "settings.language",
        "description" => "settings.description",
        "address" => "settings.address",
        "opening_hours" => "settings.opening_hours",
        "business_hours" => "settings.business_hours",
        "timezone" => "settings.timezone",
        "tone" => "settings.tone",
        "escalation_keywords" => "settings.escalation_keywords",
        "link_hosts" => "settings.link_hosts",
        "digest_time" => "settings.digest_time",
        "max_bot_turns" => "settings.max_bot_turns",
        "renotify_minutes" => "settings.renotify_minutes",
        "response_target_minutes" => "settings.response_target_minutes",
        "resume_after_hours" => "settings.resume_after_hours",
        "monthly_token_budget" => "settings.monthly_token_budget",
        "monthly_template_cap" => "settings.monthly_template_cap",
        "daily_media_bytes_cap" => "settings.daily_media_bytes_cap",
        _ => "settings.save",
    }
}

/// The stored settings and name as form values.
async fn stored(state: &AppState, session: &Session) -> Result<Map<String, Value>, PageError> {
    let mut tx = state.store.begin_read(session.caller.tenant).await?;
    let tenant = tx.tenant().await?.ok_or_else(PageError::not_found)?;
    tx.commit().await?;
    let mut values = match serde_json::to_value(&tenant.settings) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    values.insert("name".into(), Value::String(tenant.name));
    Ok(values)
}

/// Whether a typed text equals the stored one (saving trims, so surrounding blanks change nothing).
fn same_text(stored: Option<&Value>, typed: &str) -> bool {
    matches!(stored, Some(Value::String(s)) if s == typed || s == typed.trim())
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_owner()?;
    let values = stored(&state, &session).await?;
    let flash = flash_from_query(session.lang, query.as_deref());
    Ok(render(&session, StatusCode::OK, flash, &values))
}

/// Saves only the fields that differ from the stored ones, so the `tenant.settings_changed`
/// audit row names what really changed (and an unchanged form writes nothing).
async fn save(
    State(state): State<AppState>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    let current = stored(&state, &session).await?;
    let mut patch = Map::new();
    // Read-only values stay on the page when it comes back with an error.
    let mut typed: Map<String, Value> =
        OPERATOR_ONLY.iter().filter_map(|f| Some((f.to_string(), current.get(*f)?.clone()))).collect();
    for field in TEXT_FIELDS.iter().chain(&["language"]) {
        let raw = form.required(field)?;
        typed.insert(field.to_string(), Value::String(raw.to_string()));
        if !same_text(current.get(*field), raw) {
            patch.insert(field.to_string(), Value::String(raw.to_string()));
        }
    }
    // A form from before the choice was added leaves both settings as stored.
    if let Some(raw) = form.get("media") {
        let (_, policy, understand) =
            MEDIA_CHOICES.iter().find(|(choice, ..)| *choice == raw).ok_or_else(PageError::bad_request)?;
        for (field, value) in [("media_policy", Value::from(*policy)), ("understand_media", Value::Bool(*understand))] {
            typed.insert(field.into(), value.clone());
            if current.get(field) != Some(&value) {
                patch.insert(field.into(), value);
            }
        }
    }
    let mut bad_number = false;
    for field in NUMBER_FIELDS {
        // A form from before a setting was added leaves it as stored.
        let Some(raw) = form.get(field).map(str::trim) else { continue };
        typed.insert(field.to_string(), Value::String(raw.to_string()));
        match raw.parse::<i32>() {
            Ok(n) if current.get(*field) != Some(&Value::from(n)) => {
                patch.insert(field.to_string(), Value::from(n));
            }
            Ok(_) => {}
            Err(_) => bad_number = true,
        }
    }
    if bad_number {
        let flash = Flash::Error(session.lang.t("settings.number").into());
        return Ok(render(&session, StatusCode::BAD_REQUEST, Some(flash), &typed));
    }
    if patch.is_empty() {
        return Ok(Redirect::to("/dashboard/settings?ok=saved").into_response());
    }
    let now = state.clock.now();
    let catalogue: Vec<String> = state.deps.llm.as_ref().map(|l| l.profile_names()).unwrap_or_default();
    match tenants::change_settings(&*state.store, session.caller.tenant, &session.actor(), patch, &catalogue, now).await
    {
        Ok(_) => Ok(Redirect::to("/dashboard/settings?ok=saved").into_response()),
        Err(UseCaseError::Invalid { detail, .. }) => {
            Ok(render(&session, StatusCode::BAD_REQUEST, Some(Flash::Error(detail)), &typed))
        }
        Err(e) => Err(e.into()),
    }
}
