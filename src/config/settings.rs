//! The list of settings, grouped by concern: each one's name, default, range and meaning written
//! once. `--help` prints it; [`super::Config::from_lookup`] reads every value through it, so a
//! range in the help text is the range the parser enforces.

use crate::domain::code::{CODE_DIGITS_RANGE, HARDENED_CODE_DIGITS_RANGE};

/// What a group of settings is about; `--help` prints one heading per group, and
/// [`super::Config`] has one field per group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Group {
    /// Listening, worker threads, queues, shutdown, proxies and browsers.
    Server,
    /// The PostgreSQL connection and its pool.
    Database,
    /// Sending mail.
    Mail,
    /// The trust state machine: claims and their verification codes.
    Claims,
    /// Codes mailed to an account: password reset, sign-in, change of email.
    MailedCodes,
    /// Rate limits (0: off).
    Limits,
    /// Login sessions and their tokens.
    Sessions,
    /// Passwords and the second factor.
    Credentials,
    /// Passkeys (WebAuthn): where ceremonies are valid.
    Passkeys,
    /// Signing in with another identity provider.
    Providers,
    /// Telling other systems about changes to accounts.
    Webhooks,
    /// The background reaper.
    Housekeeping,
}

impl Group {
    /// The heading `--help` prints.
    pub fn title(self) -> &'static str {
        match self {
            Group::Server => "Server",
            Group::Database => "Database",
            Group::Mail => "Mail",
            Group::Claims => "Claims and verification codes",
            Group::MailedCodes => "Codes mailed to an account (reset, sign-in, change of email)",
            Group::Limits => "Rate limits (0: off)",
            Group::Sessions => "Sessions and tokens",
            Group::Credentials => "Passwords and the second factor",
            Group::Passkeys => "Passkeys (WebAuthn)",
            Group::Providers => "Sign-in with another provider (OpenID Connect)",
            Group::Webhooks => "Webhooks (Standard Webhooks)",
            Group::Housekeeping => "Housekeeping",
        }
    }
}

/// One environment variable the binary reads.
pub struct Setting {
    /// Variable name.
    pub name: &'static str,
    /// Its group.
    pub group: Group,
    /// Value used when the variable is unset or empty, as printed by `--help`.
    pub default: &'static str,
    /// The whole numbers it accepts, for a numeric setting; `--help` prints them.
    pub range: Option<(u64, u64)>,
    /// One-line meaning, with units.
    pub meaning: &'static str,
}

use Group::*;

/// Every setting, grouped, in `--help` order.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    t("BIND_ADDR", Server, "127.0.0.1:8080", "listen address IP:PORT; port 0 picks a free port"),
    n("WORKERS", Server, "16", 1, 1024, "request worker threads (everything that does not run bcrypt)"),
    n("QUEUE_DEPTH", Server, "64", 1, 100_000, "requests waiting for a worker before new ones are shed with 503"),
    n("HASH_THREADS", Server, "number of CPU cores", 1, 256, "bcrypt computations at once; the endpoints running bcrypt have a lane of 4 × HASH_THREADS workers, so one waiting for the mail server leaves no core idle; bcrypt itself runs at idle priority"),
    n("HASH_QUEUE_DEPTH", Server, "16", 1, 100_000, "requests waiting for a hashing-lane worker (4 × HASH_THREADS) before new ones are shed with 503"),
    n("SHUTDOWN_GRACE_SECONDS", Server, "10", 0, 3600, "how long SIGTERM/SIGINT waits for in-flight requests, seconds"),
    t("TRUST_X_FORWARDED_FOR", Server, "false", "true: the client IP is the rightmost X-Forwarded-For address (only behind your own proxy)"),
    t("CORS_ALLOWED_ORIGINS", Server, "empty", "comma-separated exact origins (https://app.example.com) whose pages may call the API from a browser; empty: no CORS headers"),
    t("DATABASE_URL", Database, "postgres://postgres@localhost:5432/beefirst", "PostgreSQL connection string (also for beefirst admin, .ci/pg-up and the tests)"),
    n("DB_POOL_SIZE", Database, "10", 1, 1024, "most PostgreSQL connections this process opens, on demand; see README for sizing"),
    n("DB_POOL_MIN_IDLE", Database, "2", 0, 1024, "connections kept idle and ready (at most DB_POOL_SIZE); those above it close after a minute unused"),
    n("DB_STARTUP_TIMEOUT_SECONDS", Database, "30", 0, 3600, "how long start-up retries an unreachable database"),
    t("MAIL_API_URL", Mail, "unset", "unset: console mailer on stdout; set: the http(s):// URL of a Mailpit-style send API (certificates verified)"),
    t("SMTP_URL", Mail, "unset", "smtp://[user:pass@]host[:port] (STARTTLS required, port 587), smtps://… (implicit TLS, 465), or smtp://loopback:port?tls=off; instead of MAIL_API_URL"),
    t("SMTP_USERNAME", Mail, "unset", "SMTP AUTH user name (PLAIN or LOGIN), instead of the one in SMTP_URL"),
    t("SMTP_PASSWORD", Mail, "unset", "SMTP AUTH password, instead of the one in SMTP_URL; never logged"),
    t("SMTP_CA_FILE", Mail, "unset", "PEM file of certificate authorities to trust for the SMTP server, besides Mozilla's roots"),
    t("MAIL_TEMPLATES_DIR", Mail, "unset", "unset: the built-in mail templates; set: a folder holding every one of them (KIND.txt, KIND.html, layout.html), checked at start"),
    t("MAIL_FROM", Mail, "no-reply@beefirst.local", "sender address of every mail"),
    n("MAIL_TIMEOUT_MS", Mail, "3000", 1, 60_000, "budget of the HTTP mailer's connect and answer, or of each SMTP connect, read and write, milliseconds"),
    n("MAIL_MAX_ATTEMPTS", Mail, "12", 1, 100, "delivery attempts of a queued mail (reset codes, notices) before it is given up; pauses double from 1 s to 5 min"),
    n("CODE_TTL_SECONDS", Claims, "60", 1, 86_400, "verification code lifetime, seconds"),
    n("CODE_DIGITS", Claims, "4", *CODE_DIGITS_RANGE.start() as u64, *CODE_DIGITS_RANGE.end() as u64, "verification code length"),
    n("HARDENED_CODE_DIGITS", Claims, "8", *HARDENED_CODE_DIGITS_RANGE.start() as u64, *HARDENED_CODE_DIGITS_RANGE.end() as u64, "code length (more than CODE_DIGITS) for an email whose wrong-code budget is spent"),
    n("MAX_CODE_ATTEMPTS", Claims, "3", 1, 100, "wrong codes before the claim is released"),
    n("MAX_RESENDS", Claims, "3", 0, 100, "resends per claim"),
    n("RESET_CODE_DIGITS", MailedCodes, "8", 6, 10, "length of password-reset, sign-in and email-change codes"),
    n("RESET_CODE_TTL_SECONDS", MailedCodes, "900", 60, 86_400, "lifetime of a password-reset or sign-in code, seconds"),
    n("MAX_RESET_ATTEMPTS", MailedCodes, "5", 1, 100, "wrong codes that kill a password-reset, sign-in or email-change code"),
    n("EMAIL_CHANGE_TTL_SECONDS", MailedCodes, "900", 60, 86_400, "lifetime of an email-change code, seconds"),
    n("RATE_LIMIT_IP_PER_MINUTE", Limits, "60", 0, 1_000_000, "POST requests per client IP per rolling minute, all POST endpoints together, and GET /idp/{name}/authorize (it stores a sign-in)"),
    n("RATE_LIMIT_EMAIL_PER_HOUR", Limits, "10", 0, 1_000_000, "mails sent per email address per rolling hour"),
    n("MAX_WRONG_CODES_PER_EMAIL_PER_DAY", Limits, "10", 0, 1_000_000, "wrong codes per mailbox (+tag stripped) across all its claims per rolling 24 h; past it, new codes for that email have HARDENED_CODE_DIGITS digits"),
    n("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", Limits, "10", 0, 1_000_000, "failed logins per email per rolling hour before 429 (also wrong passwords at /me, and wrong second-factor codes per account); a mailed sign-in code still works"),
    n("SESSION_TTL_SECONDS", Sessions, "2592000", 60, 31_536_000, "lifetime of a login session and its chain of refresh tokens (absolute), seconds"),
    n("ACCESS_TOKEN_TTL_SECONDS", Sessions, "900", 30, 86_400, "lifetime of a signed access token (JWT), seconds"),
    n("REFRESH_REUSE_GRACE_SECONDS", Sessions, "10", 0, 300, "a spent refresh token presented again within this many seconds is refused without revoking its session (two tabs racing); later, the session is revoked"),
    t("JWT_ISSUER", Sessions, "beefirst", "the iss claim of access tokens"),
    t("JWT_SIGNING_KEY", Sessions, "unset", "unset: a fresh Ed25519 key per process (only its public half is stored, in the database); set: base64url of a 32-byte Ed25519 seed"),
    n("MFA_TOKEN_TTL_SECONDS", Sessions, "300", 30, 3600, "lifetime of the token between the password step and the second-factor step of a login, seconds"),
    n("BCRYPT_COST", Credentials, "12", 4, 31, "bcrypt work factor"),
    t("TOTP_ISSUER", Credentials, "beefirst", "the issuer an authenticator app shows next to the account"),
    t("TOTP_ENCRYPTION_KEY", Credentials, "unset", "base64url of 32 random bytes that encrypt TOTP secrets at rest; unset: a public development key (logged at start; never in production)"),
    t("PUBLIC_URL", Passkeys, "http://localhost:8080", "the URL browsers use to reach the service or its web client; gives the next two their defaults"),
    t("WEBAUTHN_RP_ID", Passkeys, "host of PUBLIC_URL", "relying party ID: the domain passkeys are bound to (every origin below is on it or a subdomain); changing it orphans every passkey"),
    t("WEBAUTHN_ORIGINS", Passkeys, "origin of PUBLIC_URL", "comma-separated exact origins (https://accounts.example.com) whose passkey ceremonies are accepted"),
    t("IDENTITY_PROVIDERS", Providers, "empty", "comma-separated provider names: google (OpenID Connect), github and facebook (OAuth 2.0 presets), or any name with IDP_<NAME>_ISSUER; each needs IDP_<NAME>_CLIENT_ID and IDP_<NAME>_CLIENT_SECRET"),
    t("REDIRECT_ALLOWED_URLS", Providers, "PUBLIC_URL + /", "comma-separated URLs a sign-in may return to: exact, or a prefix when it ends in /"),
    n("IDP_TIMEOUT_MS", Providers, "5000", 100, 60_000, "connect + answer budget of each request to a provider, milliseconds"),
    t("WEBHOOK_URLS", Webhooks, "empty", "comma-separated http(s) URLs (no user:password@) each sent every subscribed user.* event as a signed POST; empty: no webhooks"),
    t("WEBHOOK_SECRET", Webhooks, "unset", "whsec_ + base64 of 24 to 64 random bytes: the HMAC-SHA256 key of webhook-signature; required when WEBHOOK_URLS is set"),
    t("WEBHOOK_EVENTS", Webhooks, "all", "comma-separated event types sent (user.created, user.updated, user.email_changed, user.password_changed, user.mfa_changed, user.role_changed, user.disabled, user.enabled, user.deleted), or all"),
    n("WEBHOOK_MAX_ATTEMPTS", Webhooks, "16", 1, 100, "delivery attempts of one event to one URL before it is marked failed; pauses double from 1 s to 1 hour (16: about 4 hours in all)"),
    n("WEBHOOK_TIMEOUT_MS", Webhooks, "5000", 100, 60_000, "connect + answer budget of one delivery, milliseconds; a receiver that takes longer has failed that attempt"),
    n("REAPER_INTERVAL_SECONDS", Housekeeping, "10", 1, 86_400, "how often expired claims, codes, sessions and counters are deleted in the background, seconds"),
    n("AUDIT_RETENTION_DAYS", Housekeeping, "365", 1, 36_500, "audit events older than this are deleted by the reaper, days; an account's events go with it"),
];

/// A numeric setting.
const fn n(
    name: &'static str,
    group: Group,
    default: &'static str,
    min: u64,
    max: u64,
    meaning: &'static str,
) -> Setting {
    Setting { name, group, default, range: Some((min, max)), meaning }
}

/// A setting of another kind; its parser is in `Config::from_lookup`.
const fn t(
    name: &'static str,
    group: Group,
    default: &'static str,
    meaning: &'static str,
) -> Setting {
    Setting { name, group, default, range: None, meaning }
}

/// The setting called `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The text of `beefirst --help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "beefirst: user registration with emailed verification codes (HTTP/JSON API)\n\n\
         Usage: beefirst             serve\n\
         \x20      beefirst --healthcheck  exit 0 if GET /health on BIND_ADDR answers 200\n\
         \x20      beefirst admin grant EMAIL   make the active account EMAIL an administrator\n\
         \x20      beefirst admin revoke EMAIL  make it a user again (never the last administrator)\n\
         \x20      beefirst import [--dry-run] FILE|-  make the accounts of an NDJSON file (see README)\n\
         \x20      beefirst export  every account as NDJSON on stdout, password hashes included: secret\n\
         \x20      beefirst --help\n\
\n\
         Settings come from environment variables (unset or empty: default):\n",
    );
    let mut group = None;
    for s in SETTINGS {
        if group != Some(s.group) {
            group = Some(s.group);
            out.push_str(&format!("\n{}:\n", s.group.title()));
        }
        let range = s.range.map_or(String::new(), |(min, max)| format!(", {min} to {max}"));
        out.push_str(&format!(
            "  {}  (default: {}{range})\n      {}\n",
            s.name, s.default, s.meaning
        ));
    }
    out.push_str(
        "\nThe first line on stdout contains \"listening\" and the bound IP:PORT.\n\
         Exit codes: 1 runtime failure (database unreachable at start, bind failed, listener \
         lost; --healthcheck: unhealthy; admin: no such active account, or the last administrator; \
         import: a bad line, each reported on stderr), \
         2 invalid configuration or arguments.\n",
    );
    out
}
