//! Settings from environment variables (12-factor), grouped by concern.
//!
//! [`SETTINGS`] (in `settings.rs`) lists every variable once, with its group, default, range and
//! meaning: `--help` prints it and [`Config::from_lookup`] reads every value through it, so the
//! two cannot drift apart. [`Config`] has one struct per group.

pub use read::ConfigError;
use read::Var;

mod groups;
mod mail;
mod origins;
mod passkeys;
mod providers;
mod read;
mod settings;
mod smtp;
mod webhooks;

pub use groups::{
    ClaimSettings, CredentialSettings, DatabaseSettings, HousekeepingSettings, LimitSettings,
    MailedCodeSettings, ServerSettings, SessionSettings,
};
pub use mail::MailSettings;
pub use passkeys::PasskeySettings;
pub use providers::{
    OAuthEndpoints, Preset, Provider, ProviderKind, ProviderSettings, outbound_allowed,
};
pub use settings::{Group, SETTINGS, Setting, help_text, setting};
pub use smtp::{SmtpSecurity, SmtpSettings};
pub use webhooks::WebhookSettings;

/// The validated configuration of one process, one field per [`Group`].
#[derive(Clone)]
pub struct Config {
    /// Listening, threads, queues, shutdown, proxies and browsers.
    pub server: ServerSettings,
    /// The PostgreSQL connection and its pool.
    pub database: DatabaseSettings,
    /// Sending mail.
    pub mail: MailSettings,
    /// Sending mail through SMTP (`SMTP_URL`), instead of `MAIL_API_URL`.
    pub smtp: Option<SmtpSettings>,
    /// Claims and their verification codes.
    pub claims: ClaimSettings,
    /// Codes mailed to an account (reset, sign-in, change of email).
    pub mailed_codes: MailedCodeSettings,
    /// Rate limits; 0 turns one off.
    pub limits: LimitSettings,
    /// Login sessions and their tokens.
    pub sessions: SessionSettings,
    /// Passwords and the second factor.
    pub credentials: CredentialSettings,
    /// Where passkey ceremonies are valid.
    pub passkeys: PasskeySettings,
    /// The identity providers one may sign in with.
    pub providers: ProviderSettings,
    /// Where account events are sent, and how.
    pub webhooks: WebhookSettings,
    /// The background reaper.
    pub housekeeping: HousekeepingSettings,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (unit tests pass a map). Unset or empty means default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get =
            |name: &'static str| Var { name, value: lookup(name).filter(|v| !v.trim().is_empty()) };
        let get: groups::Get = &get;
        let passkeys = PasskeySettings::read(get)?;
        let mail = MailSettings::read(get)?;
        let smtp = smtp::read(get)?;
        if smtp.is_some() && mail.api.is_some() {
            return Err(ConfigError {
                var: "SMTP_URL",
                message: "and MAIL_API_URL cannot both be set: choose one way to send mail".into(),
            });
        }
        Ok(Config {
            server: ServerSettings::read(get)?,
            database: DatabaseSettings::read(get)?,
            mail,
            smtp,
            claims: ClaimSettings::read(get)?,
            mailed_codes: MailedCodeSettings::read(get)?,
            limits: LimitSettings::read(get)?,
            sessions: SessionSettings::read(get)?,
            credentials: CredentialSettings::read(get)?,
            passkeys: passkeys.clone(),
            providers: ProviderSettings::read(get, &lookup, &passkeys.public_url)?,
            webhooks: WebhookSettings::read(get)?,
            housekeeping: HousekeepingSettings::read(get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodeLengths;
    use std::collections::HashMap;
    use std::time::Duration;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.server.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.claims.code_ttl_seconds, 60);
        assert_eq!(c.claims.max_code_attempts, 3);
        assert_eq!(c.credentials.bcrypt_cost, 12);
        assert_eq!(c.claims.code_lengths, CodeLengths { normal: 4, hardened: 8 });
        assert_eq!(c.housekeeping.reaper_interval, Duration::from_secs(10));
        assert_eq!(c.mail.from.as_str(), "no-reply@beefirst.local");
        assert!(c.mail.api.is_none());
        assert_eq!((c.database.pool_size, c.database.pool_min_idle), (10, 2));
        assert!(c.server.hash_threads >= 1);
        assert_eq!(c.server.hash_queue_depth, 16);
        assert_eq!(c.limits.ip_per_minute, 60);
        assert_eq!(c.limits.email_per_hour, 10);
        assert_eq!(c.claims.max_resends, 3);
        assert_eq!(c.limits.wrong_codes_per_email_per_day, 10);
        assert!(!c.server.trust_x_forwarded_for);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.sessions.ttl_seconds, 2_592_000);
        assert_eq!(
            (c.sessions.access_token_ttl_seconds, c.sessions.refresh_reuse_grace_seconds),
            (900, 10)
        );
        assert_eq!(
            (c.sessions.jwt_issuer.as_str(), c.sessions.jwt_signing_key),
            ("beefirst", None)
        );
        assert_eq!(c.limits.login_failures_per_hour, 10);
        assert_eq!(
            (c.mailed_codes.digits, c.mailed_codes.reset_ttl_seconds, c.mailed_codes.max_attempts),
            (8, 900, 5)
        );
        assert_eq!((c.mailed_codes.email_change_ttl_seconds, c.mail.max_attempts), (900, 12));
        assert_eq!(
            (c.credentials.totp_issuer.as_str(), c.credentials.totp_encryption_key),
            ("beefirst", None)
        );
        assert_eq!(
            (c.sessions.mfa_token_ttl_seconds, c.housekeeping.audit_retention_days),
            (300, 365)
        );
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("WORKERS", "0"),
            ("WORKERS", "many"),
            ("BCRYPT_COST", "3"),
            ("BCRYPT_COST", "32"),
            ("CODE_DIGITS", "9"),
            ("CODE_TTL_SECONDS", "-1"),
            ("MAX_CODE_ATTEMPTS", "0"),
            ("BIND_ADDR", "localhost"),
            ("MAIL_API_URL", "ftp://mail.example/api"),
            ("MAIL_API_URL", "https://user:secret@mail.example/api"),
            ("MAIL_TEMPLATES_DIR", "/nonexistent"),
            ("MAIL_FROM", "nobody"),
            ("DB_POOL_SIZE", "0"),
            ("DB_POOL_MIN_IDLE", "11"),
            ("REAPER_INTERVAL_SECONDS", "0"),
            ("TRUST_X_FORWARDED_FOR", "maybe"),
            ("QUEUE_DEPTH", "0"),
            ("MAX_RESENDS", "101"),
            ("RATE_LIMIT_IP_PER_MINUTE", "-5"),
            ("SESSION_TTL_SECONDS", "59"),
            ("ACCESS_TOKEN_TTL_SECONDS", "29"),
            ("REFRESH_REUSE_GRACE_SECONDS", "301"),
            ("JWT_SIGNING_KEY", "too-short"),
            ("HASH_THREADS", "0"),
            ("HASH_QUEUE_DEPTH", "0"),
            ("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "x"),
            ("HARDENED_CODE_DIGITS", "11"),
            ("RESET_CODE_DIGITS", "5"),
            ("RESET_CODE_TTL_SECONDS", "59"),
            ("MAX_RESET_ATTEMPTS", "0"),
            ("EMAIL_CHANGE_TTL_SECONDS", "86401"),
            ("MAIL_MAX_ATTEMPTS", "0"),
            ("TOTP_ENCRYPTION_KEY", "short"),
            ("MFA_TOKEN_TTL_SECONDS", "29"),
            ("AUDIT_RETENTION_DAYS", "0"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
            ("WEBHOOK_URLS", "ftp://hooks.example.com"),
            ("WEBHOOK_URLS", "https://a.example/h,https://a.example/h"),
            ("WEBHOOK_URLS", "https://user:pw@hooks.example/h"),
            ("WEBHOOK_SECRET", "whsec_c2hvcnQ="),
            ("WEBHOOK_EVENTS", "user.created,user.exploded"),
            ("WEBHOOK_MAX_ATTEMPTS", "0"),
        ];
        for (var, value) in cases {
            let err =
                config(&[(var, value)]).err().unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert_eq!(err.var, var);
            assert!(err.to_string().contains(var));
        }
    }

    /// The range `--help` prints is the range the parser enforces, for every numeric setting.
    #[test]
    fn every_range_in_the_help_is_the_range_enforced() {
        // Settings another one bounds get room: DB_POOL_MIN_IDLE ≤ DB_POOL_SIZE, CODE_DIGITS <
        // HARDENED_CODE_DIGITS.
        let room = [
            ("DB_POOL_SIZE", "1024"),
            ("DB_POOL_MIN_IDLE", "0"),
            ("HARDENED_CODE_DIGITS", "10"),
            ("CODE_DIGITS", "4"),
        ];
        for setting in SETTINGS {
            let Some((min, max)) = setting.range else { continue };
            let with = |value: u64| {
                let value = value.to_string();
                let mut vars: Vec<(&str, &str)> =
                    room.iter().copied().filter(|(name, _)| *name != setting.name).collect();
                vars.push((setting.name, &value));
                config(&vars).err().map(|e| e.var)
            };
            assert_eq!(with(min), None, "{} refuses its minimum {min}", setting.name);
            assert_eq!(with(max), None, "{} refuses its maximum {max}", setting.name);
            assert_eq!(with(max + 1), Some(setting.name), "{} accepts {}", setting.name, max + 1);
            if min > 0 {
                assert_eq!(
                    with(min - 1),
                    Some(setting.name),
                    "{} accepts {}",
                    setting.name,
                    min - 1
                );
            }
            let default = setting.default.parse::<u64>();
            assert!(default.map_or(true, |d| (min..=max).contains(&d)), "{}", setting.name);
        }
    }

    /// `--help` lists nothing the parser ignores, and the parser reads nothing `--help` omits.
    #[test]
    fn every_setting_listed_is_read_and_every_one_read_is_listed() {
        let asked = std::cell::RefCell::new(Vec::new());
        let _ = Config::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        });
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut listed: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        listed.sort();
        assert_eq!(asked, listed);
    }

    #[test]
    fn webhook_urls_need_a_secret_and_default_to_every_event() {
        let url = ("WEBHOOK_URLS", "https://hooks.example.com/beefirst");
        assert_eq!(config(&[url]).err().unwrap().var, "WEBHOOK_SECRET");
        let almost = ("WEBHOOK_SECRET", "whsec_c2VjcmV0IGJ1dCB0b28gc2hvcnQ=");
        let refused = config(&[url, almost]).err().unwrap();
        assert!(!refused.to_string().contains("c2VjcmV0"), "a secret is never echoed: {refused}");
        let secret = ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let on = config(&[url, secret]).unwrap().webhooks;
        assert!(crate::domain::UserEventType::ALL.iter().all(|&kind| on.wants(kind)));
        let off = config(&[secret]).unwrap().webhooks;
        assert!(!off.wants(crate::domain::UserEventType::Created));
        let only = config(&[url, secret, ("WEBHOOK_EVENTS", "user.deleted")]).unwrap().webhooks;
        assert!(only.wants(crate::domain::UserEventType::Deleted));
        assert!(!only.wants(crate::domain::UserEventType::Created));
    }

    #[test]
    fn smtp_and_the_mail_api_are_one_or_the_other() {
        let both = [
            ("SMTP_URL", "smtp://relay.example.com"),
            ("MAIL_API_URL", "http://mail:8025/api/v1/send"),
        ];
        assert_eq!(config(&both).err().unwrap().var, "SMTP_URL");
        assert!(config(&both[..1]).unwrap().smtp.is_some());
    }

    #[test]
    fn a_hardened_code_must_be_longer_than_a_normal_one() {
        let err = config(&[("CODE_DIGITS", "8")]).err().unwrap();
        assert_eq!(err.var, "HARDENED_CODE_DIGITS");
        assert!(config(&[("CODE_DIGITS", "8"), ("HARDENED_CODE_DIGITS", "9")]).is_ok());
    }
}
