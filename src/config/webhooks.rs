//! [`super::Group::Webhooks`]: where account events are sent (`WEBHOOK_URLS`), the key that signs
//! them (`WEBHOOK_SECRET`), which types (`WEBHOOK_EVENTS`), how often a delivery is tried
//! (`WEBHOOK_MAX_ATTEMPTS`) and how long one may take (`WEBHOOK_TIMEOUT_MS`).

use super::groups::Get;
use super::providers::web_url;
use super::read::ConfigError;
use crate::domain::UserEventType;
use base64::Engine;
use std::time::Duration;
use webauthn_rs::prelude::Url;

/// Length bounds of the decoded `WEBHOOK_SECRET`, bytes (Standard Webhooks: 24 to 64).
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The webhook settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// `WEBHOOK_URLS`, in order; empty: webhooks are off and nothing is recorded.
    pub endpoints: Vec<Url>,
    /// The HMAC-SHA256 key, `WEBHOOK_SECRET` decoded (present whenever `endpoints` is not empty).
    pub secret: Vec<u8>,
    /// `WEBHOOK_EVENTS`: the types recorded and sent.
    pub events: Vec<UserEventType>,
    /// `WEBHOOK_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// `WEBHOOK_TIMEOUT_MS`.
    pub timeout: Duration,
}

impl WebhookSettings {
    /// Whether events of type `kind` are recorded (some URL is set and the type is subscribed).
    pub fn wants(&self, kind: UserEventType) -> bool {
        !self.endpoints.is_empty() && self.events.contains(&kind)
    }

    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        let endpoints: Vec<Url> = get("WEBHOOK_URLS").with(
            |v| {
                if v == "empty" {
                    return Some(Vec::new());
                }
                // No user:password@: the URL is logged and shown to administrators.
                let usable =
                    |u: &Url| web_url(u) && u.username().is_empty() && u.password().is_none();
                let urls: Option<Vec<Url>> =
                    v.split(',').map(|u| Url::parse(u.trim()).ok().filter(usable)).collect();
                urls.filter(|urls| urls.iter().enumerate().all(|(i, u)| !urls[..i].contains(u)))
            },
            "must be comma-separated, distinct http(s) URLs without user:password@",
        )?;
        let secret = get("WEBHOOK_SECRET");
        let secret = match (&secret.value, endpoints.is_empty()) {
            (None, true) => Vec::new(),
            (None, false) => {
                return Err(ConfigError {
                    var: "WEBHOOK_SECRET",
                    message: "must be set when WEBHOOK_URLS is (whsec_ + base64 of 24 to 64 random bytes)".into(),
                });
            }
            // Not `Var::with`: its message would echo the value, and this one is a secret.
            (Some(value), _) => parse_secret(value.trim()).ok_or_else(|| ConfigError {
                var: "WEBHOOK_SECRET",
                message: "must be whsec_ followed by the base64 of 24 to 64 random bytes".into(),
            })?,
        };
        let events = get("WEBHOOK_EVENTS").with(
            |v| {
                if v == "all" {
                    return Some(UserEventType::ALL.to_vec());
                }
                v.split(',').map(|t| UserEventType::parse(t.trim())).collect()
            },
            "must be all, or comma-separated types such as user.created,user.deleted",
        )?;
        Ok(WebhookSettings {
            endpoints,
            secret,
            events,
            max_attempts: get("WEBHOOK_MAX_ATTEMPTS").number()?,
            timeout: Duration::from_millis(get("WEBHOOK_TIMEOUT_MS").number()?),
        })
    }
}

/// `whsec_<base64>` → the key bytes, if 24 to 64 of them.
fn parse_secret(value: &str) -> Option<Vec<u8>> {
    let encoded = value.strip_prefix("whsec_")?;
    let key = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    SECRET_BYTES.contains(&key.len()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::parse_secret;

    #[test]
    fn a_secret_is_whsec_and_24_to_64_bytes_of_base64() {
        assert_eq!(
            parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").map(|k| k.len()),
            Some(24)
        );
        assert!(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(parse_secret("whsec_c2hvcnQ=").is_none());
        assert!(parse_secret("whsec_not base64!").is_none());
        assert!(parse_secret(&format!("whsec_{}", "A".repeat(88))).is_none()); // 66 bytes
    }
}
