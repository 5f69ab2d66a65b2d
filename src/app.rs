//! What every request and the background threads share: [`AppState`], built once at start.

use crate::config::Config;
use crate::db::{self, Pool};
use crate::error::Error;
use crate::mail::Mailer;
use crate::security::keys::Keys;
use crate::security::oidc::OidcClient;
use crate::security::sealing::{DEVELOPMENT_KEY, SealingKey};
use crate::security::webauthn::RelyingParty;
use crate::telemetry::metrics::Backlog;

/// What every request handler can reach. Cheap to share: the pool is an `Arc` inside.
pub struct AppState {
    /// Validated settings.
    pub config: Config,
    /// PostgreSQL pool.
    pub pool: Pool,
    /// The key that signs access tokens, and the verifying keys seen.
    pub keys: Keys,
    /// Console or HTTP mailer.
    pub mailer: Mailer,
    /// A bcrypt hash at `BCRYPT_COST` that no password matches (see [`dummy_hash`]). Verified
    /// against when an identity is unknown, so unknown and known emails cost the same time
    /// (failure scenarios 7 and 10).
    pub dummy_hash: String,
    /// Wakes the background worker after a commit that queued mail or a code request.
    pub worker_signal: crate::uow::signal::Signal,
    /// Wake the webhook senders (one per `WEBHOOK_URLS` entry) after a commit that queued
    /// deliveries.
    pub webhook_signals: Vec<crate::uow::signal::Signal>,
    /// Seals TOTP secrets at rest (`TOTP_ENCRYPTION_KEY`).
    pub sealing: SealingKey,
    /// Passkey ceremonies (`WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGINS`).
    pub relying_party: RelyingParty,
    /// Identity providers' metadata and keys, and the outbound client (`IDP_TIMEOUT_MS`).
    pub oidc: OidcClient,
}

impl AppState {
    /// Builds the state: the dummy hash, the signing key, the common-password set, the mailer.
    /// Errors: no randomness.
    pub fn new(config: Config, pool: Pool) -> Result<AppState, Error> {
        let dummy_hash = dummy_hash(config.credentials.bcrypt_cost)?;
        let keys = Keys::new(config.sessions.jwt_signing_key)?;
        crate::domain::password::warm_up();
        crate::security::hashing::limit_parallel_hashes(config.server.hash_threads);
        let mail = &config.mail;
        let mailer = match (&mail.api, &config.smtp) {
            (Some(url), _) => Mailer::Http {
                url: url.to_string(),
                from: mail.from.clone(),
                agent: crate::client::agent::bounded(mail.timeout),
            },
            (None, Some(smtp)) => Mailer::Smtp(Box::new(
                crate::mail::smtp::Smtp::new(smtp, &mail.from, mail.timeout)
                    .map_err(Error::internal)?,
            )),
            (None, None) => Mailer::Console,
        };
        let sealing =
            SealingKey::new(&config.credentials.totp_encryption_key.unwrap_or(DEVELOPMENT_KEY))
                .map_err(|e| Error::internal(format!("sealing key: {e}")))?;
        let worker_signal = Default::default();
        let webhook_signals =
            config.webhooks.endpoints.iter().map(|_| Default::default()).collect();
        let relying_party = RelyingParty::new(&config.passkeys)?;
        let oidc = OidcClient::new(config.providers.timeout);
        Ok(AppState {
            config,
            pool,
            keys,
            mailer,
            dummy_hash,
            worker_signal,
            webhook_signals,
            sealing,
            relying_party,
            oidc,
        })
    }
}

impl AppState {
    /// Wakes every webhook sender: deliveries were queued (a commit) or made due (a retry).
    pub fn wake_webhook_senders(&self) {
        self.webhook_signals.iter().for_each(crate::uow::signal::Signal::wake);
    }
}

/// Settings an operator should know are unsafe for production, as (event, hint) pairs logged
/// with level `warn` right after the `listening` line.
pub fn startup_warnings(config: &Config) -> Vec<(&'static str, &'static str)> {
    let mut warnings = Vec::new();
    if config.credentials.totp_encryption_key.is_none() {
        warnings.push((
            "totp_key_is_the_development_default",
            "TOTP secrets are sealed with a public development key; set TOTP_ENCRYPTION_KEY \
             (base64url of 32 random bytes) before real users enrol",
        ));
    }
    warnings
}

/// `GET /health`: one round trip to PostgreSQL. Errors: 503 [`Error::Unavailable`].
pub fn check_database(state: &AppState) -> Result<(), Error> {
    db::ping(&mut *db::checkout(&state.pool)?)
}

/// The pool's connections (in use, idle), for `GET /metrics`.
pub fn pool_connections(state: &AppState) -> (u32, u32) {
    let pool = state.pool.state();
    (pool.connections - pool.idle_connections, pool.idle_connections)
}

/// Mail queued in the outbox and forgot-password requests not yet taken, or `None` when the
/// database does not answer (`GET /metrics` still answers then).
pub fn worker_backlog(state: &AppState) -> Option<Backlog> {
    let mut client = db::checkout(&state.pool).ok()?;
    crate::outbox::sql::backlog(&mut client).ok()
}

/// A bcrypt hash string with cost `cost` that no password matches, made in about a millisecond.
///
/// bcrypt's work depends only on the cost field of the hash it verifies against. So this is a real
/// hash of a random secret made at cost 4, with its cost field then set to `cost`: verifying any
/// password against it runs the full configured cost and fails. Unknown identities therefore take
/// as long as known ones, and start-up does not spend a full-cost hash (≈ 230 ms at cost 12).
pub fn dummy_hash(cost: u32) -> Result<String, Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let cheap = bcrypt::hash(secret, 4)?; // "$2b$04$" + 22 salt + 31 digest characters
    Ok(format!("{}{cost:02}{}", &cheap[..4], &cheap[6..]))
}

#[cfg(test)]
mod tests {
    use super::dummy_hash;
    use std::time::Instant;

    #[test]
    fn the_dummy_hash_has_the_configured_cost_and_matches_nothing() {
        let hash = dummy_hash(9).unwrap();
        assert!(hash.starts_with("$2b$09$") && hash.len() == 60, "{hash}");
        let started = Instant::now();
        assert!(!bcrypt::verify("any password at all", &hash).unwrap());
        let at_cost_9 = started.elapsed();
        let real = bcrypt::hash("any password at all", 4).unwrap();
        let started = Instant::now();
        bcrypt::verify("any password at all", &real).unwrap();
        assert!(at_cost_9 > started.elapsed() * 8, "cost 9 must be ~32x the work of cost 4");
    }
}
