//! LLM settings from flags and `BALAS_LLM_*` variables. Unset base URL: offline FAQ responder.
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgAction, Args};
use secrecy::SecretString;

use crate::config::secret;
use crate::llm::{LlmEndpoint, LlmProfile, LlmSettings};
use crate::transcription::{RequestShape, TranscriptionSettings};

#[derive(Clone, Args)]
pub struct LlmArgs {
    /// OpenAI-compatible base URL (OpenRouter, Gemini, OpenAI, Ollama…); unset: FAQ responder only.
    #[arg(long, env = "BALAS_LLM_BASE_URL", global = true)]
    pub llm_base_url: Option<String>,
    /// API key of the primary endpoint (any value for a local server).
    #[arg(long, env = "BALAS_LLM_API_KEY", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub llm_api_key: Option<SecretString>,
    #[arg(long, env = "BALAS_LLM_MODEL", global = true)]
    pub llm_model: Option<String>,
    /// Fallbacks, tried in order: comma-separated `base_url|model|KEY_ENV` entries, where
    /// KEY_ENV names the environment variable that holds that endpoint's key.
    #[arg(long, env = "BALAS_LLM_FALLBACKS", global = true)]
    pub llm_fallbacks: Option<String>,
    /// The operator's catalogue of LLM profiles tenants pick from: comma-separated
    /// `name|base_url|model|KEY_ENV|usd_per_mtok_in|usd_per_mtok_out[|images]`; KEY_ENV names the
    /// variable holding its key, `images` marks a model that takes photos.
    #[arg(long, env = "BALAS_LLM_PROFILES", global = true)]
    pub llm_profiles: Option<String>,
    /// Timeout of one LLM HTTP call, in seconds.
    #[arg(long, env = "BALAS_LLM_TIMEOUT_SECS", default_value_t = 20, global = true)]
    pub llm_timeout_secs: u64,
    /// Ask routers such as OpenRouter for providers that neither store nor train on the data.
    #[arg(long, env = "BALAS_LLM_NO_DATA_COLLECTION", default_value_t = true, action = ArgAction::Set, global = true)]
    pub llm_no_data_collection: bool,
    /// US dollars per million prompt tokens, for cost estimates.
    #[arg(long, env = "BALAS_LLM_PRICE_INPUT", default_value_t = 0.0, global = true)]
    pub llm_price_input: f64,
    /// US dollars per million completion tokens, for cost estimates.
    #[arg(long, env = "BALAS_LLM_PRICE_OUTPUT", default_value_t = 0.0, global = true)]
    pub llm_price_output: f64,
    /// The models of the chain take images (OpenAI `image_url` content parts): tenants that
    /// understand media have customers' photos answered by them.
    #[arg(long, env = "BALAS_LLM_VISION", default_value_t = false, action = ArgAction::Set, global = true)]
    pub llm_vision: bool,
    /// OpenAI-compatible base URL with `/audio/transcriptions` (OpenAI, Groq, a Whisper server);
    /// unset: voice notes follow the media policy.
    #[arg(long, env = "BALAS_TRANSCRIBE_BASE_URL", global = true)]
    pub transcribe_base_url: Option<String>,
    /// Its key; unset, the LLM's key is used.
    #[arg(long, env = "BALAS_TRANSCRIBE_API_KEY", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub transcribe_api_key: Option<SecretString>,
    #[arg(long, env = "BALAS_TRANSCRIBE_MODEL", default_value = "whisper-1", global = true)]
    pub transcribe_model: String,
    /// Timeout of one transcription, upload included, in seconds.
    #[arg(long, env = "BALAS_TRANSCRIBE_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub transcribe_timeout_secs: u64,
    /// US dollars per minute of audio, for cost estimates (OpenAI's whisper-1: 0.006).
    #[arg(long, env = "BALAS_TRANSCRIBE_PRICE_PER_MINUTE", default_value_t = 0.006, global = true)]
    pub transcribe_price_per_minute: f64,
    /// The request's shape: multipart (OpenAI, Groq, local servers), json (OpenRouter), or auto
    /// (json for openrouter.ai).
    #[arg(long, env = "BALAS_TRANSCRIBE_SHAPE", default_value = "auto", value_parser = ["auto", "multipart", "json"], global = true)]
    pub transcribe_shape: String,
}

impl LlmArgs {
    pub fn settings(&self) -> anyhow::Result<Option<LlmSettings>> {
        let mut profiles: Vec<LlmProfile> = Vec::new();
        for entry in self.llm_profiles.iter().flat_map(|f| f.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
            let profile = parse_profile(entry, |name| std::env::var(name).ok())?;
            if profiles.iter().any(|p| p.name == profile.name) {
                bail!("BALAS_LLM_PROFILES names {:?} twice", profile.name);
            }
            profiles.push(profile);
        }
        let mut endpoints = Vec::new();
        if let Some(base_url) = self.llm_base_url.clone().filter(|u| !u.trim().is_empty()) {
            let model = self.llm_model.clone().context("BALAS_LLM_MODEL is required when BALAS_LLM_BASE_URL is set")?;
            let api_key = self.llm_api_key.clone().context(
                "missing required secret BALAS_LLM_API_KEY (any value for a local server) while BALAS_LLM_BASE_URL is set",
            )?;
            endpoints.push(LlmEndpoint { base_url, model, api_key });
            for entry in self.llm_fallbacks.iter().flat_map(|f| f.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
                endpoints.push(parse_fallback(entry, |name| std::env::var(name).ok())?);
            }
        } else if profiles.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_secs(self.llm_timeout_secs.clamp(1, 300));
        Ok(Some(LlmSettings {
            timeout,
            deadline: timeout * 2 + Duration::from_secs(5),
            no_data_collection: self.llm_no_data_collection,
            price_input_per_mtok: self.llm_price_input.max(0.0),
            price_output_per_mtok: self.llm_price_output.max(0.0),
            vision: self.llm_vision,
            profiles,
            ..LlmSettings::new(endpoints)
        }))
    }

    /// The transcription endpoint, if one is set.
    pub fn transcription(&self) -> anyhow::Result<Option<TranscriptionSettings>> {
        let Some(base_url) = self.transcribe_base_url.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let api_key = self.transcribe_api_key.clone().or_else(|| self.llm_api_key.clone()).context(
            "missing required secret BALAS_TRANSCRIBE_API_KEY (or BALAS_LLM_API_KEY) while BALAS_TRANSCRIBE_BASE_URL is set",
        )?;
        let shape = RequestShape::parse(&self.transcribe_shape, &base_url).context("BALAS_TRANSCRIBE_SHAPE")?;
        Ok(Some(TranscriptionSettings {
            shape,
            base_url,
            model: self.transcribe_model.clone(),
            api_key,
            timeout: Duration::from_secs(self.transcribe_timeout_secs.clamp(1, 300)),
            usd_per_minute: self.transcribe_price_per_minute.max(0.0),
        }))
    }
}

/// `base_url|model|KEY_ENV`; the key is read from the named variable.
fn parse_fallback(entry: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<LlmEndpoint> {
    let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
    let [base_url, model, key_env] = parts[..] else {
        bail!("BALAS_LLM_FALLBACKS entries are base_url|model|KEY_ENV");
    };
    let key =
        env(key_env).with_context(|| format!("missing required secret {key_env} (named in BALAS_LLM_FALLBACKS)"))?;
    Ok(LlmEndpoint { base_url: base_url.into(), model: model.into(), api_key: key.into() })
}

/// `name|base_url|model|KEY_ENV|usd_in|usd_out[|images]`; the key is read from the named variable.
fn parse_profile(entry: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<LlmProfile> {
    let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
    let (name, base_url, model, key_env, price_in, price_out, images) = match parts[..] {
        [n, u, m, k, i, o] => (n, u, m, k, i, o, ""),
        [n, u, m, k, i, o, v] => (n, u, m, k, i, o, v),
        _ => bail!(
            "BALAS_LLM_PROFILES entries are name|base_url|model|KEY_ENV|usd_per_mtok_in|usd_per_mtok_out[|images]"
        ),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("BALAS_LLM_PROFILES: a profile name is letters, digits, - and _ ({name:?})");
    }
    let price = |raw: &str| -> anyhow::Result<f64> {
        let value: f64 =
            raw.parse().with_context(|| format!("BALAS_LLM_PROFILES {name}: price {raw:?} is not a number"))?;
        if !value.is_finite() || value < 0.0 {
            bail!("BALAS_LLM_PROFILES {name}: prices are US dollars per million tokens, 0 or more");
        }
        Ok(value)
    };
    let vision = match images {
        "" | "text" => false,
        "images" => true,
        other => bail!("BALAS_LLM_PROFILES {name}: the last field is `images` or nothing, not {other:?}"),
    };
    let key =
        env(key_env).with_context(|| format!("missing required secret {key_env} (named in BALAS_LLM_PROFILES)"))?;
    Ok(LlmProfile {
        name: name.into(),
        endpoint: LlmEndpoint { base_url: base_url.into(), model: model.into(), api_key: key.into() },
        key_variable: key_env.into(),
        price_input_per_mtok: price(price_in)?,
        price_output_per_mtok: price(price_out)?,
        vision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks_read_their_key_from_the_named_variable() {
        let ok = parse_fallback("https://openrouter.ai/api/v1|meta-llama/llama-3.1-8b|OR_KEY", |n| {
            (n == "OR_KEY").then(|| "k".into())
        })
        .unwrap();
        assert_eq!(
            (ok.base_url.as_str(), ok.model.as_str()),
            ("https://openrouter.ai/api/v1", "meta-llama/llama-3.1-8b")
        );
        let missing = parse_fallback("http://x|m|NOPE", |_| None).unwrap_err();
        assert!(missing.to_string().contains("NOPE"));
        assert!(parse_fallback("http://x|m", |_| None).is_err());
    }

    #[test]
    fn profiles_carry_their_prices_and_read_their_key_from_the_named_variable() {
        let env = |n: &str| (n == "CHEAP_KEY").then(|| "k".to_string());
        let p = parse_profile("cheap|http://llm.test/v1|small|CHEAP_KEY|0.1|0.4|images", env).unwrap();
        assert_eq!(
            (p.name.as_str(), p.endpoint.model.as_str(), p.key_variable.as_str()),
            ("cheap", "small", "CHEAP_KEY")
        );
        assert_eq!((p.price_input_per_mtok, p.price_output_per_mtok, p.vision), (0.1, 0.4, true));
        assert!(!parse_profile("cheap|http://x|m|CHEAP_KEY|0|0", env).unwrap().vision);
        assert!(parse_profile("cheap|http://x|m|NOPE|0|0", env).unwrap_err().to_string().contains("NOPE"));
        assert!(parse_profile("cheap|http://x|m|CHEAP_KEY|-1|0", env).is_err());
        assert!(parse_profile("cheap|http://x|m|CHEAP_KEY|x|0", env).is_err());
        assert!(parse_profile("bad name|http://x|m|CHEAP_KEY|0|0", env).is_err());
        assert!(parse_profile("cheap|http://x|m|CHEAP_KEY", env).is_err());
    }
}
