//! The list of settings, printed by `--help` and read by [`super::Config::from_lookup`].

/// One environment variable the binary reads.
pub struct Setting {
    /// Variable name.
    pub name: &'static str,
    /// Value used when the variable is unset, as printed by `--help`.
    pub default: &'static str,
    /// One-line meaning, with units.
    pub meaning: &'static str,
}

/// Every setting, in `--help` order.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    s("DATABASE_URL", "postgres://postgres@localhost:5432/beefirst", "PostgreSQL connection string (also for beefirst admin, .ci/pg-up and the tests)"),
    s("BIND_ADDR", "127.0.0.1:8080", "listen address IP:PORT; port 0 picks a free port"),
    s("WORKERS", "16", "request worker threads (1-1024)"),
    s("DB_POOL_SIZE", "10", "most PostgreSQL connections this process opens, on demand (1-1024); see README for sizing"),
    s("DB_POOL_MIN_IDLE", "2", "connections kept idle and ready (0-DB_POOL_SIZE); those above it close after a minute unused"),
    s("DB_STARTUP_TIMEOUT_SECONDS", "30", "how long start-up retries an unreachable database (0-3600)"),
    s("MAIL_API_URL", "unset", "unset: console mailer on stdout; set: http://host[:port]/path of a Mailpit-style send API"),
    s("MAIL_FROM", "no-reply@beefirst.local", "sender address of every mail"),
    s("MAIL_TIMEOUT_MS", "3000", "connect + response budget of the HTTP mailer, milliseconds (1-60000)"),
    s("CODE_TTL_SECONDS", "60", "verification code lifetime, seconds (1-86400)"),
    s("CODE_DIGITS", "4", "verification code length (4-8)"),
    s("HARDENED_CODE_DIGITS", "8", "code length for an email whose wrong-code budget is spent (6-10, more than CODE_DIGITS)"),
    s("MAX_CODE_ATTEMPTS", "3", "wrong codes before the claim is released (1-100)"),
    s("BCRYPT_COST", "12", "bcrypt work factor (4-31)"),
    s("REAPER_INTERVAL_SECONDS", "10", "how often expired claims are deleted in the background, seconds (1-86400)"),
    s("RATE_LIMIT_IP_PER_MINUTE", "60", "POST requests per client IP per rolling minute, all POST endpoints together; 0: off"),
    s("RATE_LIMIT_EMAIL_PER_HOUR", "10", "mails sent per email address per rolling hour; 0: off"),
    s("MAX_RESENDS", "3", "resends per claim (0-100)"),
    s("MAX_WRONG_CODES_PER_EMAIL_PER_DAY", "10", "wrong codes per mailbox (+tag stripped) across all its claims per rolling 24 h; past it, new codes for that email have HARDENED_CODE_DIGITS digits; 0: off"),
    s("TRUST_X_FORWARDED_FOR", "false", "true: the client IP is the rightmost X-Forwarded-For address (only behind your own proxy)"),
    s("QUEUE_DEPTH", "64", "requests waiting for a worker before new ones are shed with 503 (1-100000)"),
    s("HASH_THREADS", "number of CPU cores", "threads that serve the endpoints running bcrypt (a lane of their own); bcrypt itself runs at idle priority (1-256)"),
    s("HASH_QUEUE_DEPTH", "16", "requests waiting for a hash thread before new ones are shed with 503 (1-100000)"),
    s("SHUTDOWN_GRACE_SECONDS", "10", "how long SIGTERM/SIGINT waits for in-flight requests, seconds (0-3600)"),
    s("SESSION_TTL_SECONDS", "2592000", "lifetime of a login session and its chain of refresh tokens (absolute), seconds (60-31536000)"),
    s("ACCESS_TOKEN_TTL_SECONDS", "900", "lifetime of a signed access token (JWT), seconds (30-86400)"),
    s("REFRESH_REUSE_GRACE_SECONDS", "10", "a spent refresh token presented again within this many seconds is refused without revoking its session (two tabs racing); later, the session is revoked (0-300)"),
    s("JWT_ISSUER", "beefirst", "the iss claim of access tokens"),
    s("JWT_SIGNING_KEY", "unset", "unset: a fresh Ed25519 key per process (only its public half is stored, in the database); set: base64url of a 32-byte Ed25519 seed"),
    s("RESET_CODE_DIGITS", "8", "length of password-reset, sign-in and email-change codes (6-10)"),
    s("RESET_CODE_TTL_SECONDS", "900", "lifetime of a password-reset or sign-in code, seconds (60-86400)"),
    s("MAX_RESET_ATTEMPTS", "5", "wrong codes that kill a password-reset, sign-in or email-change code (1-100)"),
    s("EMAIL_CHANGE_TTL_SECONDS", "900", "lifetime of an email-change code, seconds (60-86400)"),
    s("MAIL_MAX_ATTEMPTS", "12", "delivery attempts of a queued mail (reset codes, notices) before it is given up; pauses double from 1 s to 5 min (1-100)"),
    s("TOTP_ISSUER", "beefirst", "the issuer an authenticator app shows next to the account"),
    s("TOTP_ENCRYPTION_KEY", "unset", "base64url of 32 random bytes that encrypt TOTP secrets at rest; unset: a public development key (logged at start; never in production)"),
    s("MFA_TOKEN_TTL_SECONDS", "300", "lifetime of the token between the password step and the second-factor step of a login, seconds (30-3600)"),
    s("CORS_ALLOWED_ORIGINS", "empty", "comma-separated exact origins (https://app.example.com) whose pages may call the API from a browser; empty: no CORS headers"),
    s("AUDIT_RETENTION_DAYS", "365", "audit events older than this are deleted by the reaper, days (1-36500); an account's events go with it"),
    s("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "10", "failed logins per email per rolling hour before 429 (also wrong passwords at /me, and wrong second-factor codes per account); a mailed sign-in code still works; 0: off"),
];

const fn s(name: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting { name, default, meaning }
}

/// The text of `beefirst --help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "beefirst: user registration with emailed verification codes (HTTP/JSON API)\n\n\
         Usage: beefirst             serve\n\
         \x20      beefirst --healthcheck  exit 0 if GET /health on BIND_ADDR answers 200\n\
         \x20      beefirst admin grant EMAIL   make the active account EMAIL an administrator\n\
         \x20      beefirst admin revoke EMAIL  make it a user again (never the last administrator)\n\
         \x20      beefirst --help\n\
\n\
         Settings come from environment variables (unset or empty: default):\n\n",
    );
    for s in SETTINGS {
        out.push_str(&format!(
            "  {:<28} default: {}\n  {:<28} {}\n",
            s.name, s.default, "", s.meaning
        ));
    }
    out.push_str(
        "\nThe first line on stdout contains \"listening\" and the bound IP:PORT.\n\
         Exit codes: 1 runtime failure (database unreachable at start, bind failed, listener \
         lost; --healthcheck: unhealthy; admin: no such active account, or the last administrator), \
         2 invalid configuration or arguments.\n",
    );
    out
}
