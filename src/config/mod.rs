//! Settings from environment variables (12-factor; contract "Process").
//!
//! [`SETTINGS`] (in `settings.rs`) is the single list of every variable with its default and meaning: `--help`
//! prints it and [`Config::from_lookup`] reads it, so the two cannot drift apart.

use crate::client::endpoint::HttpEndpoint;
use crate::domain::CodeLengths;
use crate::domain::Email;
use crate::domain::code::{CODE_DIGITS_RANGE, HARDENED_CODE_DIGITS_RANGE};
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

mod origins;
mod settings;

pub use settings::{SETTINGS, Setting, help_text};

/// The validated configuration of one process.
#[derive(Clone)]
pub struct Config {
    /// Parsed `DATABASE_URL`.
    pub database: postgres::Config,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `WORKERS`.
    pub workers: usize,
    /// `DB_POOL_SIZE`.
    pub db_pool_size: u32,
    /// `DB_POOL_MIN_IDLE` (at most `db_pool_size`).
    pub db_pool_min_idle: u32,
    /// `DB_STARTUP_TIMEOUT_SECONDS`.
    pub db_startup_timeout: Duration,
    /// `MAIL_API_URL`; `None` selects the console mailer.
    pub mail_api: Option<HttpEndpoint>,
    /// `MAIL_FROM`.
    pub mail_from: Email,
    /// `MAIL_TIMEOUT_MS`.
    pub mail_timeout: Duration,
    /// `CODE_TTL_SECONDS`.
    pub code_ttl_seconds: u32,
    /// `CODE_DIGITS` and `HARDENED_CODE_DIGITS`.
    pub code_lengths: CodeLengths,
    /// `MAX_CODE_ATTEMPTS`.
    pub max_code_attempts: u32,
    /// `BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `REAPER_INTERVAL_SECONDS`.
    pub reaper_interval: Duration,
    /// `RATE_LIMIT_IP_PER_MINUTE` (0: off).
    pub rate_limit_ip_per_minute: u32,
    /// `RATE_LIMIT_EMAIL_PER_HOUR` (0: off).
    pub rate_limit_email_per_hour: u32,
    /// `MAX_RESENDS`.
    pub max_resends: u32,
    /// `MAX_WRONG_CODES_PER_EMAIL_PER_DAY` (0: off).
    pub max_wrong_codes_per_email_per_day: u32,
    /// `TRUST_X_FORWARDED_FOR`.
    pub trust_x_forwarded_for: bool,
    /// `QUEUE_DEPTH`.
    pub queue_depth: usize,
    /// `HASH_THREADS`.
    pub hash_threads: usize,
    /// `HASH_QUEUE_DEPTH`.
    pub hash_queue_depth: usize,
    /// `SHUTDOWN_GRACE_SECONDS`.
    pub shutdown_grace: Duration,
    /// `SESSION_TTL_SECONDS`.
    pub session_ttl_seconds: u32,
    /// `ACCESS_TOKEN_TTL_SECONDS`.
    pub access_token_ttl_seconds: u32,
    /// `REFRESH_REUSE_GRACE_SECONDS`.
    pub refresh_reuse_grace_seconds: u32,
    /// `JWT_ISSUER`.
    pub jwt_issuer: String,
    /// `JWT_SIGNING_KEY`: the Ed25519 seed, if the operator supplies one.
    pub jwt_signing_key: Option<[u8; 32]>,
    /// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR` (0: off).
    pub login_failures_per_hour: u32,
    /// `RESET_CODE_DIGITS`: length of reset and email-change codes.
    pub reset_code_digits: u32,
    /// `RESET_CODE_TTL_SECONDS`.
    pub reset_code_ttl_seconds: u32,
    /// `MAX_RESET_ATTEMPTS`.
    pub max_reset_attempts: u32,
    /// `EMAIL_CHANGE_TTL_SECONDS`.
    pub email_change_ttl_seconds: u32,
    /// `MAIL_MAX_ATTEMPTS`: delivery attempts of an outbox mail.
    pub mail_max_attempts: u32,
    /// `TOTP_ISSUER`.
    pub totp_issuer: String,
    /// `TOTP_ENCRYPTION_KEY`; `None`: the public development key.
    pub totp_encryption_key: Option<[u8; 32]>,
    /// `MFA_TOKEN_TTL_SECONDS`.
    pub mfa_token_ttl_seconds: u32,
    /// `AUDIT_RETENTION_DAYS`.
    pub audit_retention_days: u32,
    /// `CORS_ALLOWED_ORIGINS`, lowercased; empty: CORS off.
    pub cors_allowed_origins: Vec<String>,
}

/// An invalid setting: the variable and what is wrong with it. The process exits with code 2.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Variable name.
    pub var: &'static str,
    /// What a valid value looks like.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {} {}", self.var, self.message)
    }
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
        let workers = get("WORKERS").number(1..=1024)?;
        let db_pool_size = get("DB_POOL_SIZE").number(1..=1024)?;
        let hash_threads = match get("HASH_THREADS") {
            v if v.value.is_none() => std::thread::available_parallelism().map_or(2, |n| n.get()),
            v => v.number(1..=256)?,
        };
        Ok(Config {
            database: get("DATABASE_URL").parse("must be a PostgreSQL connection string")?,
            bind_addr: get("BIND_ADDR").parse("must be IP:PORT, e.g. 127.0.0.1:8080")?,
            workers,
            db_pool_size,
            db_pool_min_idle: get("DB_POOL_MIN_IDLE").number(0..=db_pool_size)?,
            hash_threads,
            hash_queue_depth: get("HASH_QUEUE_DEPTH").number(1..=100_000)?,
            db_startup_timeout: Duration::from_secs(
                get("DB_STARTUP_TIMEOUT_SECONDS").number(0..=3600)?,
            ),
            mail_api: match get("MAIL_API_URL").value {
                None => None,
                Some(url) => Some(HttpEndpoint::parse(&url).map_err(|why| ConfigError {
                    var: "MAIL_API_URL",
                    message: format!("must be http://host[:port]/path ({why})"),
                })?),
            },
            mail_from: get("MAIL_FROM")
                .with(|v| Email::parse(v).ok(), "must be an email address")?,
            mail_timeout: Duration::from_millis(get("MAIL_TIMEOUT_MS").number(1..=60_000)?),
            code_ttl_seconds: get("CODE_TTL_SECONDS").number(1..=86_400)?,
            code_lengths: code_lengths(&get)?,
            max_code_attempts: get("MAX_CODE_ATTEMPTS").number(1..=100)?,
            bcrypt_cost: get("BCRYPT_COST").number(4..=31)?,
            reaper_interval: Duration::from_secs(
                get("REAPER_INTERVAL_SECONDS").number(1..=86_400)?,
            ),
            rate_limit_ip_per_minute: get("RATE_LIMIT_IP_PER_MINUTE").number(0..=1_000_000)?,
            rate_limit_email_per_hour: get("RATE_LIMIT_EMAIL_PER_HOUR").number(0..=1_000_000)?,
            max_resends: get("MAX_RESENDS").number(0..=100)?,
            max_wrong_codes_per_email_per_day: get("MAX_WRONG_CODES_PER_EMAIL_PER_DAY")
                .number(0..=1_000_000)?,
            trust_x_forwarded_for: get("TRUST_X_FORWARDED_FOR")
                .with(parse_bool, "must be true or false")?,
            queue_depth: get("QUEUE_DEPTH").number(1..=100_000)?,
            shutdown_grace: Duration::from_secs(get("SHUTDOWN_GRACE_SECONDS").number(0..=3600)?),
            session_ttl_seconds: get("SESSION_TTL_SECONDS").number(60..=31_536_000)?,
            access_token_ttl_seconds: get("ACCESS_TOKEN_TTL_SECONDS").number(30..=86_400)?,
            refresh_reuse_grace_seconds: get("REFRESH_REUSE_GRACE_SECONDS").number(0..=300)?,
            jwt_issuer: get("JWT_ISSUER").with(|v| Some(v.to_owned()), "must not be empty")?,
            jwt_signing_key: key(get("JWT_SIGNING_KEY"))?,
            login_failures_per_hour: get("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR")
                .number(0..=1_000_000)?,
            reset_code_digits: get("RESET_CODE_DIGITS").number(6..=10)?,
            reset_code_ttl_seconds: get("RESET_CODE_TTL_SECONDS").number(60..=86_400)?,
            max_reset_attempts: get("MAX_RESET_ATTEMPTS").number(1..=100)?,
            email_change_ttl_seconds: get("EMAIL_CHANGE_TTL_SECONDS").number(60..=86_400)?,
            mail_max_attempts: get("MAIL_MAX_ATTEMPTS").number(1..=100)?,
            totp_issuer: get("TOTP_ISSUER").with(|v| Some(v.to_owned()), "must not be empty")?,
            totp_encryption_key: key(get("TOTP_ENCRYPTION_KEY"))?,
            mfa_token_ttl_seconds: get("MFA_TOKEN_TTL_SECONDS").number(30..=3600)?,
            audit_retention_days: get("AUDIT_RETENTION_DAYS").number(1..=36_500)?,
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS").with(
                |v| if v == "empty" { Some(Vec::new()) } else { origins::parse_origins(v) },
                "must be comma-separated origins like https://app.example.com (scheme and host, no path)",
            )?,
        })
    }
}

/// `CODE_DIGITS` and `HARDENED_CODE_DIGITS`; a hardened code must be longer.
fn code_lengths(get: &impl Fn(&'static str) -> Var) -> Result<CodeLengths, ConfigError> {
    let normal = get("CODE_DIGITS").number(CODE_DIGITS_RANGE)?;
    let hardened = get("HARDENED_CODE_DIGITS").number(HARDENED_CODE_DIGITS_RANGE)?;
    if hardened <= normal {
        return Err(ConfigError {
            var: "HARDENED_CODE_DIGITS",
            message: format!("must be more than CODE_DIGITS ({normal})"),
        });
    }
    Ok(CodeLengths { normal, hardened })
}

/// An optional 32-byte key (`JWT_SIGNING_KEY`, `TOTP_ENCRYPTION_KEY`).
fn key(var: Var) -> Result<Option<[u8; 32]>, ConfigError> {
    match &var.value {
        None => Ok(None),
        Some(value) => parse_seed(value.trim()).map(Some).ok_or_else(|| ConfigError {
            var: var.name,
            message: "must be 32 bytes in base64url (43 characters, no padding)".into(),
        }),
    }
}

/// 32 bytes written in base64url without padding.
fn parse_seed(value: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()?;
    bytes.try_into().ok()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// One variable being read: its value, or its default from [`SETTINGS`].
struct Var {
    name: &'static str,
    value: Option<String>,
}

impl Var {
    fn raw(&self) -> &str {
        match &self.value {
            Some(v) => v.trim(),
            None => SETTINGS.iter().find(|s| s.name == self.name).map_or("", |s| s.default),
        }
    }

    fn with<T>(&self, parse: impl Fn(&str) -> Option<T>, rule: &str) -> Result<T, ConfigError> {
        let raw = self.raw();
        parse(raw)
            .ok_or_else(|| ConfigError { var: self.name, message: format!("{rule} (got {raw:?})") })
    }

    fn parse<T: FromStr>(&self, rule: &str) -> Result<T, ConfigError> {
        self.with(|v| v.parse().ok(), rule)
    }

    fn number<T>(&self, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        let rule = format!("must be a whole number from {} to {}", range.start(), range.end());
        self.with(|v| v.parse().ok().filter(|n| range.contains(n)), &rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.code_ttl_seconds, 60);
        assert_eq!(c.max_code_attempts, 3);
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.code_lengths, CodeLengths { normal: 4, hardened: 8 });
        assert_eq!(c.reaper_interval, Duration::from_secs(10));
        assert_eq!(c.mail_from.as_str(), "no-reply@beefirst.local");
        assert!(c.mail_api.is_none());
        assert_eq!((c.db_pool_size, c.db_pool_min_idle), (10, 2));
        assert!(c.hash_threads >= 1);
        assert_eq!(c.hash_queue_depth, 16);
        assert_eq!(c.rate_limit_ip_per_minute, 60);
        assert_eq!(c.rate_limit_email_per_hour, 10);
        assert_eq!(c.max_resends, 3);
        assert_eq!(c.max_wrong_codes_per_email_per_day, 10);
        assert!(!c.trust_x_forwarded_for);
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.session_ttl_seconds, 2_592_000);
        assert_eq!((c.access_token_ttl_seconds, c.refresh_reuse_grace_seconds), (900, 10));
        assert_eq!((c.jwt_issuer.as_str(), c.jwt_signing_key), ("beefirst", None));
        assert_eq!(c.login_failures_per_hour, 10);
        assert_eq!(
            (c.reset_code_digits, c.reset_code_ttl_seconds, c.max_reset_attempts),
            (8, 900, 5)
        );
        assert_eq!((c.email_change_ttl_seconds, c.mail_max_attempts), (900, 12));
        assert_eq!((c.totp_issuer.as_str(), c.totp_encryption_key), ("beefirst", None));
        assert_eq!((c.mfa_token_ttl_seconds, c.audit_retention_days), (300, 365));
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
            ("MAIL_API_URL", "https://mail.example/api"),
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
        ];
        for (var, value) in cases {
            let err =
                config(&[(var, value)]).err().unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert_eq!(err.var, var);
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn a_hardened_code_must_be_longer_than_a_normal_one() {
        let err = config(&[("CODE_DIGITS", "8")]).err().unwrap();
        assert_eq!(err.var, "HARDENED_CODE_DIGITS");
        assert!(config(&[("CODE_DIGITS", "8"), ("HARDENED_CODE_DIGITS", "9")]).is_ok());
    }
}
