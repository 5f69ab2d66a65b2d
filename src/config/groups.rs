//! The settings of each [`super::Group`]: one struct per group, and how it is read.

use super::origins;
use super::read::{ConfigError, Var};
use crate::domain::CodeLengths;
use std::net::SocketAddr;
use std::time::Duration;

/// [`super::Group::Server`].
#[derive(Clone)]
pub struct ServerSettings {
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `WORKERS`.
    pub workers: usize,
    /// `QUEUE_DEPTH`.
    pub queue_depth: usize,
    /// `HASH_THREADS`.
    pub hash_threads: usize,
    /// `HASH_QUEUE_DEPTH`.
    pub hash_queue_depth: usize,
    /// `SHUTDOWN_GRACE_SECONDS`.
    pub shutdown_grace: Duration,
    /// `TRUST_X_FORWARDED_FOR`.
    pub trust_x_forwarded_for: bool,
    /// `CORS_ALLOWED_ORIGINS`, lowercased; empty: CORS off.
    pub cors_allowed_origins: Vec<String>,
}

/// [`super::Group::Database`].
#[derive(Clone)]
pub struct DatabaseSettings {
    /// Parsed `DATABASE_URL`.
    pub url: postgres::Config,
    /// `DB_POOL_SIZE`.
    pub pool_size: u32,
    /// `DB_POOL_MIN_IDLE` (at most `pool_size`).
    pub pool_min_idle: u32,
    /// `DB_STARTUP_TIMEOUT_SECONDS`.
    pub startup_timeout: Duration,
}

/// [`super::Group::Claims`].
#[derive(Clone)]
pub struct ClaimSettings {
    /// `CODE_TTL_SECONDS`.
    pub code_ttl_seconds: u32,
    /// `CODE_DIGITS` and `HARDENED_CODE_DIGITS`.
    pub code_lengths: CodeLengths,
    /// `MAX_CODE_ATTEMPTS`.
    pub max_code_attempts: u32,
    /// `MAX_RESENDS`.
    pub max_resends: u32,
}

/// [`super::Group::MailedCodes`].
#[derive(Clone)]
pub struct MailedCodeSettings {
    /// `RESET_CODE_DIGITS`: length of reset, sign-in and email-change codes.
    pub digits: u32,
    /// `RESET_CODE_TTL_SECONDS`.
    pub reset_ttl_seconds: u32,
    /// `MAX_RESET_ATTEMPTS`.
    pub max_attempts: u32,
    /// `EMAIL_CHANGE_TTL_SECONDS`.
    pub email_change_ttl_seconds: u32,
}

/// [`super::Group::Limits`]; 0 turns a limit off.
#[derive(Clone)]
pub struct LimitSettings {
    /// `RATE_LIMIT_IP_PER_MINUTE`.
    pub ip_per_minute: u32,
    /// `RATE_LIMIT_EMAIL_PER_HOUR`.
    pub email_per_hour: u32,
    /// `MAX_WRONG_CODES_PER_EMAIL_PER_DAY`.
    pub wrong_codes_per_email_per_day: u32,
    /// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`.
    pub login_failures_per_hour: u32,
}

/// [`super::Group::Sessions`].
#[derive(Clone)]
pub struct SessionSettings {
    /// `SESSION_TTL_SECONDS`.
    pub ttl_seconds: u32,
    /// `ACCESS_TOKEN_TTL_SECONDS`.
    pub access_token_ttl_seconds: u32,
    /// `REFRESH_REUSE_GRACE_SECONDS`.
    pub refresh_reuse_grace_seconds: u32,
    /// `JWT_ISSUER`.
    pub jwt_issuer: String,
    /// `JWT_SIGNING_KEY`: the Ed25519 seed, if the operator supplies one.
    pub jwt_signing_key: Option<[u8; 32]>,
    /// `MFA_TOKEN_TTL_SECONDS`.
    pub mfa_token_ttl_seconds: u32,
}

/// [`super::Group::Credentials`].
#[derive(Clone)]
pub struct CredentialSettings {
    /// `BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `TOTP_ISSUER`.
    pub totp_issuer: String,
    /// `TOTP_ENCRYPTION_KEY`; `None`: the public development key.
    pub totp_encryption_key: Option<[u8; 32]>,
}

/// [`super::Group::Housekeeping`].
#[derive(Clone)]
pub struct HousekeepingSettings {
    /// `REAPER_INTERVAL_SECONDS`.
    pub reaper_interval: Duration,
    /// `AUDIT_RETENTION_DAYS`.
    pub audit_retention_days: u32,
}

/// Reads one variable by name.
pub type Get<'a> = &'a dyn Fn(&'static str) -> Var;

impl ServerSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(ServerSettings {
            bind_addr: get("BIND_ADDR").parse("must be IP:PORT, e.g. 127.0.0.1:8080")?,
            workers: get("WORKERS").number()?,
            queue_depth: get("QUEUE_DEPTH").number()?,
            hash_threads: match get("HASH_THREADS") {
                v if v.value.is_none() => std::thread::available_parallelism().map_or(2, |n| n.get()),
                v => v.number()?,
            },
            hash_queue_depth: get("HASH_QUEUE_DEPTH").number()?,
            shutdown_grace: Duration::from_secs(get("SHUTDOWN_GRACE_SECONDS").number()?),
            trust_x_forwarded_for: get("TRUST_X_FORWARDED_FOR").flag()?,
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS").with(
                |v| if v == "empty" { Some(Vec::new()) } else { origins::parse_origins(v) },
                "must be comma-separated origins like https://app.example.com (scheme and host, no path)",
            )?,
        })
    }
}

impl DatabaseSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        let pool_size = get("DB_POOL_SIZE").number()?;
        Ok(DatabaseSettings {
            url: get("DATABASE_URL").parse("must be a PostgreSQL connection string")?,
            pool_size,
            pool_min_idle: get("DB_POOL_MIN_IDLE").number_up_to(Some(u64::from(pool_size)))?,
            startup_timeout: Duration::from_secs(get("DB_STARTUP_TIMEOUT_SECONDS").number()?),
        })
    }
}

impl ClaimSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        let normal = get("CODE_DIGITS").number()?;
        let hardened = get("HARDENED_CODE_DIGITS").number()?;
        if hardened <= normal {
            return Err(ConfigError {
                var: "HARDENED_CODE_DIGITS",
                message: format!("must be more than CODE_DIGITS ({normal})"),
            });
        }
        Ok(ClaimSettings {
            code_ttl_seconds: get("CODE_TTL_SECONDS").number()?,
            code_lengths: CodeLengths { normal, hardened },
            max_code_attempts: get("MAX_CODE_ATTEMPTS").number()?,
            max_resends: get("MAX_RESENDS").number()?,
        })
    }
}

impl MailedCodeSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(MailedCodeSettings {
            digits: get("RESET_CODE_DIGITS").number()?,
            reset_ttl_seconds: get("RESET_CODE_TTL_SECONDS").number()?,
            max_attempts: get("MAX_RESET_ATTEMPTS").number()?,
            email_change_ttl_seconds: get("EMAIL_CHANGE_TTL_SECONDS").number()?,
        })
    }
}

impl LimitSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(LimitSettings {
            ip_per_minute: get("RATE_LIMIT_IP_PER_MINUTE").number()?,
            email_per_hour: get("RATE_LIMIT_EMAIL_PER_HOUR").number()?,
            wrong_codes_per_email_per_day: get("MAX_WRONG_CODES_PER_EMAIL_PER_DAY").number()?,
            login_failures_per_hour: get("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR").number()?,
        })
    }
}

impl SessionSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(SessionSettings {
            ttl_seconds: get("SESSION_TTL_SECONDS").number()?,
            access_token_ttl_seconds: get("ACCESS_TOKEN_TTL_SECONDS").number()?,
            refresh_reuse_grace_seconds: get("REFRESH_REUSE_GRACE_SECONDS").number()?,
            jwt_issuer: get("JWT_ISSUER").text()?,
            jwt_signing_key: get("JWT_SIGNING_KEY").key()?,
            mfa_token_ttl_seconds: get("MFA_TOKEN_TTL_SECONDS").number()?,
        })
    }
}

impl CredentialSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(CredentialSettings {
            bcrypt_cost: get("BCRYPT_COST").number()?,
            totp_issuer: get("TOTP_ISSUER").text()?,
            totp_encryption_key: get("TOTP_ENCRYPTION_KEY").key()?,
        })
    }
}

impl HousekeepingSettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        Ok(HousekeepingSettings {
            reaper_interval: Duration::from_secs(get("REAPER_INTERVAL_SECONDS").number()?),
            audit_retention_days: get("AUDIT_RETENTION_DAYS").number()?,
        })
    }
}
