//! [`super::Group::Mail`]: how mail is sent (the console, `MAIL_API_URL`; `SMTP_URL` is
//! `smtp.rs`), from which address, with what budget and templates.

use super::groups::Get;
use super::providers::web_url;
use super::read::ConfigError;
use crate::domain::Email;
use crate::mail::{Templates, load_templates};
use std::path::Path;
use std::time::Duration;
use webauthn_rs::prelude::Url;

/// [`super::Group::Mail`].
#[derive(Clone)]
pub struct MailSettings {
    /// `MAIL_API_URL`; `None` (and no `SMTP_URL`: [`super::Config::smtp`]) selects the console
    /// mailer.
    pub api: Option<Url>,
    /// `MAIL_FROM`.
    pub from: Email,
    /// `MAIL_TIMEOUT_MS`.
    pub timeout: Duration,
    /// `MAIL_MAX_ATTEMPTS`: delivery attempts of an outbox mail.
    pub max_attempts: u32,
    /// The mail templates: built in, or `MAIL_TEMPLATES_DIR`'s, checked.
    pub templates: Templates,
}

impl MailSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        let api = get("MAIL_API_URL");
        Ok(MailSettings {
            api: match &api.value {
                None => None,
                Some(url) => Some(
                    Url::parse(url.trim())
                        .ok()
                        .filter(|u| web_url(u) && u.username().is_empty() && u.password().is_none())
                        .ok_or_else(|| ConfigError {
                            var: "MAIL_API_URL",
                            message: "must be an http(s):// URL without user:password@ (a secret does not \
                                      belong in a URL)"
                                .into(),
                        })?,
                ),
            },
            from: get("MAIL_FROM").with(|v| Email::parse(v).ok(), "must be an email address")?,
            timeout: Duration::from_millis(get("MAIL_TIMEOUT_MS").number()?),
            max_attempts: get("MAIL_MAX_ATTEMPTS").number()?,
            templates: load_templates(get("MAIL_TEMPLATES_DIR").value.as_deref().map(Path::new))
                .map_err(|message| ConfigError { var: "MAIL_TEMPLATES_DIR", message })?,
        })
    }
}
