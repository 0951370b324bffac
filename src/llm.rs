//! The LLM adapter: any OpenAI-compatible chat-completions endpoint (OpenRouter, Gemini,
//! OpenAI, Ollama, vLLM) through `async-openai` with our own lenient response types, a
//! fallback chain, a job-level deadline, and a structured decision: a reply or a call of
//! `escalate_to_owner(reason)`. Only the HTTP client: what to ask and whether to accept the
//! answer is the engine's (`engine/assistant.rs`, `engine/check.rs`).
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::domain::ModelReason;

/// One OpenAI-compatible endpoint and model.
#[derive(Debug, Clone)]
pub struct LlmEndpoint {
    pub base_url: String,
    pub model: String,
    pub api_key: SecretString,
}

/// One profile of the operator's catalogue: an endpoint and model with its own prices, and
/// whether it takes images. A tenant picks a profile and a fallback by name.
#[derive(Debug, Clone)]
pub struct LlmProfile {
    pub name: String,
    pub endpoint: LlmEndpoint,
    /// The name of the environment variable its key came from (shown to the operator, never the key).
    pub key_variable: String,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub vision: bool,
}

/// How the LLM is used; `None` in `AppConfig` means the offline responder answers alone.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The primary first, then the fallbacks in order.
    pub endpoints: Vec<LlmEndpoint>,
    /// Connect plus response time of one HTTP call.
    pub timeout: Duration,
    /// All calls for one reply, fallbacks included.
    pub deadline: Duration,
    /// Ask routers (OpenRouter) for providers that do not keep or train on the data.
    pub no_data_collection: bool,
    /// US dollars per million prompt / completion tokens, for cost estimates.
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub max_reply_chars: usize,
    /// Token budget of the conversation history in one prompt.
    pub history_tokens: usize,
    /// LLM replies per customer per minute; above it the offline responder answers.
    pub per_customer_per_minute: u32,
    /// Every model of the default chain takes images.
    pub vision: bool,
    /// The operator's catalogue; a tenant that picks none gets the default chain (`endpoints`,
    /// or the first profile when there is no default chain).
    pub profiles: Vec<LlmProfile>,
}

impl LlmSettings {
    pub fn new(endpoints: Vec<LlmEndpoint>) -> Self {
        Self {
            endpoints,
            timeout: Duration::from_secs(20),
            deadline: Duration::from_secs(45),
            no_data_collection: true,
            price_input_per_mtok: 0.0,
            price_output_per_mtok: 0.0,
            max_reply_chars: 700,
            history_tokens: 350,
            per_customer_per_minute: 6,
            vision: false,
            profiles: Vec::new(),
        }
    }
}

/// What the model decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelDecision {
    Reply(String),
    Escalate(ModelHandover),
}

/// The arguments of an `escalate_to_owner` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelHandover {
    pub reason: ModelReason,
    pub summary: Option<String>,
    pub draft: Option<String>,
}

/// One call to one endpoint, for `llm_usage` and the audit; no text.
pub type Attempt = crate::store::LlmCall;

/// Every attempt made, and the decision if one endpoint produced a usable one.
#[derive(Debug, Clone, Default)]
pub struct LlmOutcome {
    pub decision: Option<ModelDecision>,
    pub attempts: Vec<Attempt>,
}

struct Endpoint {
    spec: LlmEndpoint,
    client: Client<OpenAIConfig>,
    /// The catalogue profile it is, if any.
    profile: Option<String>,
    price_input_per_mtok: f64,
    price_output_per_mtok: f64,
    vision: bool,
    /// Called with the tenant's own key.
    own_key: bool,
}

impl Endpoint {
    fn build(
        http: &reqwest::Client,
        spec: LlmEndpoint,
        profile: Option<String>,
        prices: (f64, f64),
        vision: bool,
    ) -> Self {
        // Everything explicit: OpenAIConfig would otherwise read OPENAI_* variables.
        let config = OpenAIConfig::default()
            .with_api_base(spec.base_url.trim_end_matches('/'))
            .with_api_key(spec.api_key.expose_secret())
            .with_org_id("")
            .with_project_id("");
        let client = Client::build(http.clone(), config);
        let (price_input_per_mtok, price_output_per_mtok) = prices;
        Self { spec, client, profile, price_input_per_mtok, price_output_per_mtok, vision, own_key: false }
    }
}

/// The model chain one reply goes through: the operator's default chain, or the profile and
/// fallback a tenant picked (`for_tenant`).
#[derive(Clone)]
pub struct Llm {
    /// The chain this `Llm` calls, in order.
    endpoints: Vec<Arc<Endpoint>>,
    default_chain: Vec<Arc<Endpoint>>,
    profiles: Vec<Arc<Endpoint>>,
    settings: Arc<LlmSettings>,
    tool: Arc<Value>,
    http: reqwest::Client,
}

/// One model of a chain as the sub-processor list shows it (no key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmLink {
    pub base_url: String,
    pub model: String,
    pub vision: bool,
}

/// What a tenant chose: a profile, a fallback, and its own key where the operator allows one.
#[derive(Default)]
pub struct TenantChoice<'a> {
    pub profile: &'a str,
    pub fallback: &'a str,
    pub own_key: Option<SecretString>,
    /// Hosts not to be used for this tenant's data now (a sub-processor change not yet in effect).
    pub blocked_hosts: Vec<String>,
}

impl Llm {
    pub fn new(settings: LlmSettings) -> anyhow::Result<Self> {
        let http = client(settings.timeout)?;
        let prices = (settings.price_input_per_mtok, settings.price_output_per_mtok);
        let profiles: Vec<Arc<Endpoint>> = settings
            .profiles
            .iter()
            .map(|p| {
                let prices = (p.price_input_per_mtok, p.price_output_per_mtok);
                Arc::new(Endpoint::build(&http, p.endpoint.clone(), Some(p.name.clone()), prices, p.vision))
            })
            .collect();
        let mut default_chain: Vec<Arc<Endpoint>> = settings
            .endpoints
            .iter()
            .map(|spec| Arc::new(Endpoint::build(&http, spec.clone(), None, prices, settings.vision)))
            .collect();
        if default_chain.is_empty() {
            default_chain.extend(profiles.first().cloned());
        }
        let tool = serde_json::from_str(include_str!("../prompts/escalate_tool.json"))?;
        let endpoints = default_chain.clone();
        Ok(Self { endpoints, default_chain, profiles, settings: Arc::new(settings), tool: Arc::new(tool), http })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// Whether the first model of this chain takes images.
    pub fn vision(&self) -> bool {
        self.endpoints.first().is_some_and(|e| e.vision)
    }

    /// Whether the first model is called with the tenant's own key (the operator's budget does not apply).
    pub fn own_key(&self) -> bool {
        self.endpoints.first().is_some_and(|e| e.own_key)
    }

    /// Whether every model of the chain was left out.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// This chain without the models on the operator's keys (its budget is used up).
    pub fn own_key_only(&self) -> Llm {
        Llm { endpoints: self.endpoints.iter().filter(|e| e.own_key).cloned().collect(), ..self.clone() }
    }

    /// The profile names of the operator's catalogue.
    pub fn profile_names(&self) -> Vec<String> {
        self.profiles.iter().filter_map(|p| p.profile.clone()).collect()
    }

    /// The chain for a tenant: its profile then its fallback (a name no longer in the catalogue
    /// is skipped; none left: the default chain); its own key, if any, replaces the first one's.
    pub fn for_tenant(&self, choice: TenantChoice<'_>) -> Llm {
        let named = |name: &str| self.profiles.iter().find(|p| !name.is_empty() && p.profile.as_deref() == Some(name));
        let mut chain: Vec<Arc<Endpoint>> = match named(choice.profile) {
            Some(primary) => vec![primary.clone()],
            None => self.default_chain.clone(),
        };
        if let Some(fallback) = named(choice.fallback).filter(|f| !chain.iter().any(|c| Arc::ptr_eq(c, f))) {
            chain.push(fallback.clone());
        }
        // The tenant's key belongs to its primary profile's provider, whatever is left out below.
        if let (Some(key), Some(first)) = (choice.own_key, chain.first_mut()) {
            let spec = LlmEndpoint { api_key: key, ..first.spec.clone() };
            let prices = (first.price_input_per_mtok, first.price_output_per_mtok);
            let mut own = Endpoint::build(&self.http, spec, first.profile.clone(), prices, first.vision);
            own.own_key = true;
            *first = Arc::new(own);
        }
        if !choice.blocked_hosts.is_empty() {
            chain.retain(|e| {
                crate::fetch_guard::host_with_port(&e.spec.base_url).is_none_or(|h| !choice.blocked_hosts.contains(&h))
            });
        }
        Llm { endpoints: chain, ..self.clone() }
    }

    /// The endpoints of this chain, in order, for the sub-processor list.
    pub fn links(&self) -> Vec<LlmLink> {
        self.endpoints
            .iter()
            .map(|e| LlmLink { base_url: e.spec.base_url.clone(), model: e.spec.model.clone(), vision: e.vision })
            .collect()
    }

    /// Tries the endpoints in order within the deadline. A malformed answer (or one the
    /// reply check refuses) is retried once on the same endpoint, then the next one is tried.
    pub async fn decide(
        &self,
        messages: &[Value],
        accept: impl Fn(&str) -> Result<String, &'static str>,
    ) -> LlmOutcome {
        let started = Instant::now();
        let mut outcome = LlmOutcome::default();
        'endpoints: for endpoint in &self.endpoints {
            for _try in 0..2 {
                let Some(left) = self.settings.deadline.checked_sub(started.elapsed()) else { break 'endpoints };
                let (result, attempt) = self.call(endpoint, messages, left, true).await;
                let mut attempt = attempt;
                let verdict = result.and_then(|answer| match answer {
                    Answer::Escalate(handover) => Ok(ModelDecision::Escalate(handover)),
                    Answer::Text(text) => accept(&text).map(ModelDecision::Reply).map_err(Failure::Malformed),
                    Answer::Malformed(class) => Err(Failure::Malformed(class)),
                });
                match verdict {
                    Ok(decision) => {
                        attempt.outcome = match decision {
                            ModelDecision::Reply(_) => "replied".into(),
                            ModelDecision::Escalate(_) => "escalated".into(),
                        };
                        outcome.attempts.push(attempt);
                        outcome.decision = Some(decision);
                        return outcome;
                    }
                    Err(Failure::Malformed(class)) => {
                        attempt.outcome = format!("malformed:{class}");
                        outcome.attempts.push(attempt);
                    }
                    Err(Failure::Unavailable(class)) => {
                        attempt.outcome = format!("unavailable:{class}");
                        outcome.attempts.push(attempt);
                        continue 'endpoints;
                    }
                }
            }
        }
        outcome
    }

    /// A short plain-text completion (no tool): the first endpoint whose answer `accept`
    /// takes wins; a refused answer is recorded as `malformed:<class>` and the next is tried.
    pub async fn summarize(
        &self,
        messages: &[Value],
        accept: impl Fn(&str) -> Result<String, &'static str>,
    ) -> (Option<String>, Vec<Attempt>) {
        let started = Instant::now();
        let mut attempts = Vec::new();
        for endpoint in &self.endpoints {
            let Some(left) = self.settings.deadline.checked_sub(started.elapsed()) else { break };
            let (result, mut attempt) = self.call(endpoint, messages, left, false).await;
            match result {
                Ok(Answer::Text(text)) => match accept(&text) {
                    Ok(summary) => {
                        attempt.outcome = "summarized".into();
                        attempts.push(attempt);
                        return (Some(summary), attempts);
                    }
                    Err(class) => attempt.outcome = format!("malformed:{class}"),
                },
                Ok(_) => attempt.outcome = "malformed:not_text".into(),
                Err(Failure::Malformed(class)) => attempt.outcome = format!("malformed:{class}"),
                Err(Failure::Unavailable(class)) => attempt.outcome = format!("unavailable:{class}"),
            }
            attempts.push(attempt);
        }
        (None, attempts)
    }

    /// The chat-completions body. OpenRouter gets its provider preference that forbids
    /// data collection: our policies promise customer data is not used for training.
    fn request(&self, spec: &LlmEndpoint, messages: &[Value], with_tool: bool) -> Value {
        let mut request = json!({
            "model": spec.model,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": (self.settings.max_reply_chars / 2).max(256),
            "stream": false,
        });
        if with_tool {
            request["tools"] = json!([*self.tool]);
            request["tool_choice"] = json!("auto");
        }
        if self.settings.no_data_collection && spec.base_url.contains("openrouter.ai") {
            request["provider"] = json!({ "data_collection": "deny" });
        }
        request
    }

    async fn call(
        &self,
        endpoint: &Endpoint,
        messages: &[Value],
        left: Duration,
        with_tool: bool,
    ) -> (Result<Answer, Failure>, Attempt) {
        let request = self.request(&endpoint.spec, messages, with_tool);
        let started = Instant::now();
        let sent =
            tokio::time::timeout(left, endpoint.client.chat().create_byot::<Value, wire::ChatResponse>(request)).await;
        let mut attempt = Attempt {
            model: endpoint.spec.model.clone(),
            outcome: String::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: started.elapsed().as_millis() as i64,
            cost_micro_usd: 0,
            own_key: endpoint.own_key,
        };
        let response = match sent {
            Err(_) => return (Err(Failure::Unavailable("deadline")), attempt),
            Ok(Err(e)) => return (Err(classify(&e)), attempt),
            Ok(Ok(response)) => response,
        };
        if let Some(usage) = response.usage {
            attempt.prompt_tokens = usage.prompt_tokens;
            attempt.completion_tokens = usage.completion_tokens;
            // At this profile's own prices.
            let cost = usage.prompt_tokens as f64 * endpoint.price_input_per_mtok
                + usage.completion_tokens as f64 * endpoint.price_output_per_mtok;
            attempt.cost_micro_usd = cost.round() as i64;
        }
        (Ok(interpret(response)), attempt)
    }
}

/// The HTTP client of a model endpoint: connect within 5 s (or `timeout`), answer within `timeout`.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    crate::crypto::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("balas/", env!("CARGO_PKG_VERSION")))
        .build()
}

enum Answer {
    Text(String),
    Escalate(ModelHandover),
    Malformed(&'static str),
}

enum Failure {
    /// The endpoint is down, slow or refusing: go to the next one.
    Unavailable(&'static str),
    /// The endpoint answered unusably: retry once, then go to the next one.
    Malformed(&'static str),
}

fn interpret(response: wire::ChatResponse) -> Answer {
    let Some(message) = response.choices.into_iter().next().and_then(|c| c.message) else {
        return Answer::Malformed("no_choice");
    };
    if let Some(call) = message.tool_calls.into_iter().find_map(|t| t.function) {
        if call.name != "escalate_to_owner" {
            return Answer::Malformed("unknown_tool");
        }
        let args = serde_json::from_str::<Value>(&call.arguments).unwrap_or_default();
        let text = |field: &str| args[field].as_str().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let Some(reason) = args["reason"].as_str().and_then(ModelReason::parse) else {
            return Answer::Malformed("bad_tool_arguments");
        };
        return Answer::Escalate(ModelHandover { reason, summary: text("summary"), draft: text("draft_reply") });
    }
    match message.content.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()) {
        Some(text) => Answer::Text(text),
        None => Answer::Malformed("empty"),
    }
}

/// A short class: `OpenAIError`'s own text can quote the response, which may quote the customer.
fn classify(e: &OpenAIError) -> Failure {
    match e {
        OpenAIError::Reqwest(r) if r.is_timeout() => Failure::Unavailable("timeout"),
        OpenAIError::Reqwest(_) => Failure::Unavailable("network"),
        OpenAIError::ApiError(api) if api.status_code.as_u16() == 429 => Failure::Unavailable("rate_limited"),
        OpenAIError::ApiError(api) if api.status_code.is_server_error() => Failure::Unavailable("server_error"),
        OpenAIError::ApiError(_) => Failure::Unavailable("refused"),
        OpenAIError::JSONDeserialize(..) => Failure::Malformed("unreadable_json"),
        _ => Failure::Unavailable("client_error"),
    }
}

/// Lenient chat-completion response types: OpenRouter, Gemini's OpenAI-compatible endpoint,
/// Ollama and vLLM differ in small ways (empty `finish_reason`, extra tiers), so every field
/// is optional and unknown ones are ignored.
mod wire {
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ChatResponse {
        pub choices: Vec<Choice>,
        pub usage: Option<Usage>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Choice {
        pub message: Option<ChoiceMessage>,
        pub finish_reason: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ChoiceMessage {
        pub content: Option<String>,
        pub tool_calls: Vec<ToolCall>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ToolCall {
        pub function: Option<FunctionCall>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct FunctionCall {
        pub name: String,
        /// JSON text, as the API sends it.
        pub arguments: String,
    }

    #[derive(Debug, Default, Deserialize, Clone, Copy)]
    #[serde(default)]
    pub struct Usage {
        pub prompt_tokens: i64,
        pub completion_tokens: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(base_url: &str) -> LlmEndpoint {
        LlmEndpoint { base_url: base_url.into(), model: "m".into(), api_key: "k".into() }
    }

    #[test]
    fn openrouter_is_told_not_to_collect_data_unless_switched_off() {
        let router = endpoint("https://openrouter.ai/api/v1/");
        let llm = Llm::new(LlmSettings::new(vec![router.clone()])).unwrap();
        assert_eq!(llm.request(&router, &[], true)["provider"]["data_collection"], "deny");
        assert!(llm.request(&endpoint("http://localhost:11434/v1"), &[], true).get("provider").is_none());
        let off =
            Llm::new(LlmSettings { no_data_collection: false, ..LlmSettings::new(vec![router.clone()]) }).unwrap();
        assert!(off.request(&router, &[], true).get("provider").is_none());
    }

    #[test]
    fn tool_calls_and_odd_answers_are_interpreted_strictly() {
        let parse = |v: Value| interpret(serde_json::from_value(v).unwrap());
        let call = |name: &str, args: &str| json!({ "choices": [{ "message": { "tool_calls": [{ "function": { "name": name, "arguments": args } }] }, "finish_reason": "" }] });
        assert!(matches!(
            parse(call("escalate_to_owner", r#"{"reason":"refund"}"#)),
            Answer::Escalate(ModelHandover { reason: ModelReason::Refund, summary: None, draft: None })
        ));
        let full =
            parse(call("escalate_to_owner", r#"{"reason":"complaint","summary":"Barang rusak.","draft_reply":" "}"#));
        assert!(
            matches!(full, Answer::Escalate(ModelHandover { summary: Some(s), draft: None, .. }) if s == "Barang rusak.")
        );
        assert!(matches!(
            parse(call("escalate_to_owner", r#"{"reason":"bored"}"#)),
            Answer::Malformed("bad_tool_arguments")
        ));
        assert!(matches!(parse(call("delete_everything", "{}")), Answer::Malformed("unknown_tool")));
        assert!(matches!(parse(json!({ "choices": [] })), Answer::Malformed("no_choice")));
        assert!(matches!(
            parse(json!({ "choices": [{ "message": { "content": "  " } }] })),
            Answer::Malformed("empty")
        ));
    }

    fn catalogue() -> Llm {
        let profile = |name: &str, url: &str| LlmProfile {
            name: name.into(),
            endpoint: LlmEndpoint { base_url: url.into(), model: format!("{name}-model"), api_key: "operator".into() },
            key_variable: "K".into(),
            price_input_per_mtok: 1.0,
            price_output_per_mtok: 2.0,
            vision: name == "pintar",
        };
        let settings = LlmSettings {
            profiles: vec![
                profile("hemat", "https://hemat.example/v1"),
                profile("pintar", "https://pintar.example:8443/v1"),
            ],
            ..LlmSettings::new(Vec::new())
        };
        Llm::new(settings).unwrap()
    }

    #[test]
    fn a_tenant_gets_its_profile_and_fallback_and_its_key_stays_with_its_provider() {
        let llm = catalogue();
        let hosts = |l: &Llm| l.links().into_iter().map(|k| k.base_url).collect::<Vec<_>>();
        assert_eq!(hosts(&llm), ["https://hemat.example/v1"], "no choice: the first profile");
        let choice = TenantChoice { profile: "pintar", fallback: "hemat", ..TenantChoice::default() };
        let chain = llm.for_tenant(choice);
        assert_eq!(hosts(&chain), ["https://pintar.example:8443/v1", "https://hemat.example/v1"]);
        assert!(chain.vision() && !chain.own_key());
        let unknown = TenantChoice { profile: "gone", ..TenantChoice::default() };
        assert_eq!(hosts(&llm.for_tenant(unknown)), ["https://hemat.example/v1"], "a removed profile: the default");

        let own = || Some(SecretString::from("sk-own"));
        let mine = llm.for_tenant(TenantChoice {
            profile: "pintar",
            fallback: "hemat",
            own_key: own(),
            ..TenantChoice::default()
        });
        assert!(mine.own_key());
        assert_eq!(hosts(&mine.own_key_only()), ["https://pintar.example:8443/v1"]);
        // The primary kept out by a pending change: the tenant's key does not move to the fallback.
        let blocked = vec!["pintar.example:8443".to_string()];
        let held = llm.for_tenant(TenantChoice {
            profile: "pintar",
            fallback: "hemat",
            own_key: own(),
            blocked_hosts: blocked,
        });
        assert_eq!(hosts(&held), ["https://hemat.example/v1"]);
        assert!(!held.own_key() && held.own_key_only().is_empty());
    }
}
