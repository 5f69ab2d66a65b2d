-- beefirst schema. Applied at start, under an advisory lock, when the database was last brought to
-- another version of this file, so it must stay idempotent: only CREATE ... IF NOT EXISTS and other
-- statements that are safe to repeat. A start whose version is already applied takes no table
-- lock at all (src/db/schema.rs): one that has work takes every table first, for a moment.

-- The versions of this file the database was brought to: the SHA-256 of its text.
CREATE TABLE IF NOT EXISTS schema_applied (
    digest     bytea       PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per email. A row with status 'pending' is a *claim* (seed truth #1: one email, one
-- claim, enforced by the UNIQUE constraint); 'active' is an activated account. Keeping both in one
-- table makes "an email is either free, claimed or active" a database invariant, so a registration
-- racing an activation for the same email cannot create a second row.
CREATE TABLE IF NOT EXISTS accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text        NOT NULL UNIQUE,    -- normalized: trimmed, lowercased
    password_hash   text        NOT NULL,           -- bcrypt, never the password
    status          text        NOT NULL CHECK (status IN ('pending', 'active')),
    code_hash       bytea,                          -- sha256(code_salt || code); pending only
    code_salt       bytea,                          -- 16 random bytes per claim; pending only
    code_expires_at timestamptz,                    -- database clock; pending only
    wrong_attempts  integer     NOT NULL DEFAULT 0 CHECK (wrong_attempts >= 0),
    resends         integer     NOT NULL DEFAULT 0 CHECK (resends >= 0),  -- per claim, never reset
    created_at      timestamptz NOT NULL DEFAULT now(),
    activated_at    timestamptz,
    display_name    text CHECK (char_length(display_name) BETWEEN 1 AND 100),
    -- A claim always carries its code; an account never keeps one (no dormant secrets).
    CONSTRAINT accounts_code_only_while_pending CHECK (
        (status = 'pending' AND code_hash IS NOT NULL AND code_salt IS NOT NULL
            AND code_expires_at IS NOT NULL AND activated_at IS NULL)
        OR
        (status = 'active' AND code_hash IS NULL AND code_salt IS NULL
            AND code_expires_at IS NULL AND activated_at IS NOT NULL)
    )
);

-- The reaper deletes expired claims by this index (seed truth #6, "release on expiration").
CREATE INDEX IF NOT EXISTS accounts_pending_expiry
    ON accounts (code_expires_at) WHERE status = 'pending';

-- Rate limits shared by every instance: one row per (scope, subject), a sliding window kept as two
-- fixed buckets (the previous bucket's count is weighted by how much of it the window still
-- covers). Subjects derived from an email are the SHA-256 hex of the normalized address, so no
-- plaintext address lives outside `accounts`. Rows whose window has passed are deleted by the reaper.
CREATE TABLE IF NOT EXISTS rate_limits (
    scope          text        NOT NULL,   -- 'ip', 'mail', 'wrong_code', ...
    subject        text        NOT NULL,   -- client IP, or sha256 hex of the email
    window_seconds integer     NOT NULL CHECK (window_seconds > 0),
    bucket_start   timestamptz NOT NULL,   -- start of the current bucket (aligned to the window)
    previous       integer     NOT NULL,   -- hits counted in the bucket before it
    current        integer     NOT NULL,   -- hits counted in the current bucket
    last_allowed   boolean     NOT NULL,   -- the answer given to the latest check
    PRIMARY KEY (scope, subject)
);

-- Columns added after the first release. `accounts.credential_version` changes whenever the
-- password that proves the identity changes (password change, a replaced claim); a session records
-- the version it was created under and counts only while the two are equal, so a login that
-- checked the old password while a change was committing gets a session that is dead at once.
-- `accounts.role` is `user` or `admin`; `accounts.disabled_at` is set while an administrator has
-- disabled the account (its sessions are deleted then, and the right password gets 403). The
-- first version's sessions table (opaque bearer tokens keyed by their hash) is dropped once: its
-- users sign in again.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts'
                      AND column_name = 'credential_version') THEN
        ALTER TABLE accounts ADD COLUMN credential_version integer NOT NULL DEFAULT 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts'
                      AND column_name = 'role') THEN
        ALTER TABLE accounts ADD COLUMN role text NOT NULL DEFAULT 'user'
            CHECK (role IN ('user', 'admin'));
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'sessions'
                  AND column_name = 'token_hash') THEN
        DROP TABLE sessions;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts'
                      AND column_name = 'disabled_at') THEN
        ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;
    END IF;
END $$;

-- The admin's account list: email prefixes (LIKE 'ab%') and disabled accounts.
CREATE INDEX IF NOT EXISTS accounts_email_prefix ON accounts (email text_pattern_ops);
CREATE INDEX IF NOT EXISTS accounts_disabled ON accounts (id) WHERE disabled_at IS NOT NULL;

-- Login sessions. A login creates one; its access tokens (signed JWTs) carry its id, and every
-- request checks that it is still live (not expired by the database clock, not revoked, same
-- credential version as the account), so logout, password change and deletion take effect at
-- once. `expires_at` is absolute (SESSION_TTL_SECONDS): no refresh extends it. Deleting an account
-- deletes its sessions (ON DELETE CASCADE); the reaper deletes expired ones.
CREATE TABLE IF NOT EXISTS sessions (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_version integer     NOT NULL,
    amr                text[]      NOT NULL,   -- how it was authenticated: {pwd} or {pwd,otp}
    user_agent         text,                   -- as the client sent it at login, for the owner
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_used_at       timestamptz NOT NULL DEFAULT now(),   -- login or latest refresh
    expires_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);

-- Refresh tokens: 32 random bytes shown once to the client, stored only as SHA-256. Each refresh
-- spends the presented token and issues the next; spent tokens are kept while their session lives,
-- so presenting one again is recognised (reuse detection). They go with their session.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash bytea       PRIMARY KEY,     -- sha256(token)
    session_id bigint      NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   timestamptz                  -- when it was exchanged for the next one
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session ON refresh_tokens (session_id);

-- The public halves of the keys that sign access tokens (JWKS). Each instance signs with its own
-- key (generated at start, or JWT_SIGNING_KEY) and, while it runs, keeps pushing `listed_until` to
-- well past the expiry of any token it could sign; a key stays listed until then, whatever other
-- instances' settings. No private key is ever stored.
CREATE TABLE IF NOT EXISTS signing_keys (
    kid          text        PRIMARY KEY,     -- RFC 7638 thumbprint
    public_key   bytea       NOT NULL CHECK (length(public_key) = 32),
    listed_until timestamptz NOT NULL         -- the last token it may have signed expires before
);

-- Codes mailed to an account's address: `password_reset` (POST /password/forgot, then
-- POST /password/reset) and `sign_in` (POST /login/code, then POST /login/code/verify). At most one
-- per account and purpose; a newer request replaces the older code. The code is stored as
-- sha256(code_salt || code). A code is valid only while the account keeps the credential version
-- it was made for, so any password change or reset (which also delete the rows) kills it. `email`
-- is the address the code was mailed to: the code works only while the account still has it, so a
-- code mailed to an old address never opens the account under its new one. The reaper deletes
-- expired rows; they go with their account.
CREATE TABLE IF NOT EXISTS mailed_codes (
    account_id         bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose            text        NOT NULL CHECK (purpose IN ('password_reset', 'sign_in')),
    email              text        NOT NULL,
    code_hash          bytea       NOT NULL,
    code_salt          bytea       NOT NULL,
    credential_version integer     NOT NULL,
    wrong_attempts     integer     NOT NULL DEFAULT 0 CHECK (wrong_attempts >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    PRIMARY KEY (account_id, purpose)
);
CREATE INDEX IF NOT EXISTS mailed_codes_expiry ON mailed_codes (expires_at);

-- Requests for a mailed code (POST /password/forgot, POST /login/code), whatever the email: the
-- request path only inserts here, so it does the same work for an active account, a pending claim
-- and an unknown address. The background worker turns each into a code (active accounts only)
-- and deletes it, within a second; until then the row holds the address as typed (normalized).
CREATE TABLE IF NOT EXISTS code_requests (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose      text        NOT NULL CHECK (purpose IN ('password_reset', 'sign_in')),
    email        text        NOT NULL,
    client_ip    text,                  -- of the request, for the audit trail
    request_id   text,
    requested_at timestamptz NOT NULL DEFAULT now()
);

-- An earlier build kept reset codes in `password_resets` and forgot-password requests in
-- `reset_requests`: moved over once, then dropped. A table of an even older build without the
-- columns these need is dropped unread (its codes die: people ask again); so is an `email_changes`
-- table without its credential version.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'password_resets'
                  AND column_name = 'email') THEN
        INSERT INTO mailed_codes (account_id, purpose, email, code_hash, code_salt,
                                  credential_version, wrong_attempts, created_at, expires_at)
        SELECT account_id, 'password_reset', email, code_hash, code_salt, credential_version,
               wrong_attempts, created_at, expires_at
          FROM password_resets
        ON CONFLICT DO NOTHING;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_name = 'password_resets') THEN
        DROP TABLE password_resets;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'reset_requests'
                  AND column_name = 'request_id') THEN
        INSERT INTO code_requests (purpose, email, client_ip, request_id, requested_at)
        SELECT 'password_reset', email, client_ip, request_id, requested_at
          FROM reset_requests ORDER BY id;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_name = 'reset_requests') THEN
        DROP TABLE reset_requests;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_name = 'email_changes')
       AND NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema() AND table_name = 'email_changes'
                          AND column_name = 'credential_version') THEN
        DROP TABLE email_changes;
    END IF;
END $$;

-- A pending change of address (POST /me/email): the new address proves itself with a code, like a
-- claim. At most one per account; a newer request replaces it. The swap itself is one UPDATE of
-- accounts.email, so the UNIQUE constraint decides a race with a registration of the same address.
-- Like a reset, it counts only while the account keeps the credential version it was asked
-- under: a password change or reset committing at the same moment still cancels it.
CREATE TABLE IF NOT EXISTS email_changes (
    account_id         bigint      PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    credential_version integer     NOT NULL,
    new_email          text        NOT NULL,
    code_hash          bytea       NOT NULL,
    code_salt          bytea       NOT NULL,
    wrong_attempts     integer     NOT NULL DEFAULT 0 CHECK (wrong_attempts >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS email_changes_expiry ON email_changes (expires_at);

-- The transactional outbox: mail that must not sit on a request path (reset codes, notices) is
-- inserted here in the same transaction as the change it reports, and a background sender in
-- every instance delivers it (FOR UPDATE SKIP LOCKED, so instances share the work). Delivery is
-- at least once: a row is deleted after the mail API accepted it, retried with growing pauses
-- after a failure, and given up (logged) after MAIL_MAX_ATTEMPTS. `expires_at` bounds mail whose
-- code would be useless by then. A row holds the mail's rendered text and HTML, codes included,
-- until it is sent:
-- the one place a code exists in plaintext, for seconds normally.
CREATE TABLE IF NOT EXISTS outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL,   -- password_reset_code, password_reset, ...
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    html            text,                   -- the HTML part; NULL in rows queued before it existed
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'outbox'
                      AND column_name = 'html') THEN
        ALTER TABLE outbox ADD COLUMN html text;
    END IF;
END $$;

-- Webhook deliveries (Standard Webhooks): one row per account event and WEBHOOK_URLS entry,
-- inserted by the unit of work in the same transaction as the change it reports (a change that
-- rolls back sends nothing), delivered after commit by one sender per URL in every instance
-- (FOR UPDATE SKIP LOCKED, so instances share the queue). At least once: the row is marked
-- delivered after a 2xx; a sender that dies mid-delivery leaves it to be sent again once its
-- lease has passed (receivers dedupe by `message_id`, sent as webhook-id). After
-- WEBHOOK_MAX_ATTEMPTS failed attempts it is 'failed' until an administrator retries it. The
-- payload holds the account's id and email: the reaper deletes delivered rows after a day and
-- failed ones after 30 days.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      text        NOT NULL,   -- webhook-id: one per event, the same for every URL
    endpoint        text        NOT NULL,   -- one of WEBHOOK_URLS
    event_type      text        NOT NULL,   -- user.created, ...
    payload         text        NOT NULL,   -- the exact body signed and sent
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz             -- delivered or failed
);
-- A sender's next row is the first of this index (a burst shares one next_attempt_at: the id
-- orders it without a sort of the whole backlog). It replaced one without the id.
DROP INDEX IF EXISTS webhook_deliveries_due;
CREATE INDEX IF NOT EXISTS webhook_deliveries_next
    ON webhook_deliveries (endpoint, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_status ON webhook_deliveries (status, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished
    ON webhook_deliveries (finished_at) WHERE status <> 'pending';

-- The second factor (TOTP, RFC 6238). The secret is stored sealed (XChaCha20-Poly1305 under
-- TOTP_ENCRYPTION_KEY, bound to the account id), so a dump of the database alone does not yield
-- it. `confirmed_at` NULL: enrolment started but not confirmed with a code; such a factor is not
-- asked for at login and is replaced by a new enrolment. `last_used_step` is the newest 30-second
-- step whose code was accepted: a code is accepted once and never an older one (no replay).
CREATE TABLE IF NOT EXISTS totp_factors (
    account_id     bigint      PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_sealed  bytea       NOT NULL,
    confirmed_at   timestamptz,
    last_used_step bigint,
    wrong_attempts integer     NOT NULL DEFAULT 0,  -- wrong codes at the confirmation
    created_at     timestamptz NOT NULL DEFAULT now()
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'totp_factors'
                      AND column_name = 'wrong_attempts') THEN
        ALTER TABLE totp_factors ADD COLUMN wrong_attempts integer NOT NULL DEFAULT 0;
    END IF;
END $$;

-- `accounts.mfa_enabled` mirrors "a confirmed TOTP factor exists" on the account row itself. The
-- confirmation and the switch-off update it under the account's row lock, so a login whose
-- session insert waited for that lock re-reads the row (PostgreSQL re-checks a locked row that
-- changed) and can never slip a password-only session past a confirmation (a flag in another
-- table would be read from the insert's older snapshot). Filled from `totp_factors` below.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts'
                      AND column_name = 'mfa_enabled') THEN
        ALTER TABLE accounts ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
    END IF;
END $$;
-- Filled from `totp_factors`, and kept in step with it at every start, by src/db/schema.rs
-- (`EVERY_START`), whether or not this file has work to do.

-- Recovery codes: 50 random bits each, shown once at enrolment, stored as HMAC-SHA256 under a key
-- derived from TOTP_ENCRYPTION_KEY and bound to the account (a plain hash of 50 bits could be
-- searched exhaustively from a dump); deleted when used, so each works once.
CREATE TABLE IF NOT EXISTS recovery_codes (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  bytea  NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- The step between a right password and the second factor of a login: the mfa_token (32 random
-- bytes) is stored as SHA-256, dies after 5 wrong codes or MFA_TOKEN_TTL_SECONDS, and counts only
-- while the account keeps the credential version whose password was checked.
CREATE TABLE IF NOT EXISTS mfa_challenges (
    token_hash         bytea       PRIMARY KEY,
    account_id         bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_version integer     NOT NULL,
    user_agent         text,
    wrong_attempts     integer     NOT NULL DEFAULT 0,
    expires_at         timestamptz NOT NULL
);
-- How the first step was passed: 'pwd' (POST /login), 'email' (a sign-in code) or 'fed' (another
-- provider); the session's `amr` starts with it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'mfa_challenges'
                      AND column_name = 'first_factor') THEN
        ALTER TABLE mfa_challenges ADD COLUMN first_factor text NOT NULL DEFAULT 'pwd'
            CHECK (first_factor IN ('pwd', 'email'));
    END IF;
END $$;
-- 'fed' (a sign-in with another provider) was added later: the check is replaced once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'mfa_challenges_first_factor_check'
                      AND pg_get_constraintdef(oid) LIKE '%fed%') THEN
        ALTER TABLE mfa_challenges DROP CONSTRAINT IF EXISTS mfa_challenges_first_factor_check;
        ALTER TABLE mfa_challenges ADD CONSTRAINT mfa_challenges_first_factor_check
            CHECK (first_factor IN ('pwd', 'email', 'fed'));
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS mfa_challenges_account ON mfa_challenges (account_id);
CREATE INDEX IF NOT EXISTS mfa_challenges_expiry ON mfa_challenges (expires_at);

-- The audit trail: one row per security event, inserted by the statement or transaction that
-- makes the change (a change that rolls back leaves no event), time from the database clock.
-- `account_id` is the subject: its events go with the account (ON DELETE CASCADE). `actor_id`
-- is who acted: the account itself, an administrator, or NULL (the system, an unknown client).
-- `details` never holds a password, code, token or secret. The reaper deletes events older
-- than AUDIT_RETENTION_DAYS.
CREATE TABLE IF NOT EXISTS audit_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    account_id bigint      REFERENCES accounts (id) ON DELETE CASCADE,
    actor_id   bigint      REFERENCES accounts (id) ON DELETE SET NULL,
    action     text        NOT NULL,
    client_ip  text,
    request_id text,
    details    jsonb
);
CREATE INDEX IF NOT EXISTS audit_events_account ON audit_events (account_id, id);
CREATE INDEX IF NOT EXISTS audit_events_action ON audit_events (action, id);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id);

-- Passkeys (WebAuthn): public-key credentials an account signs in with. Only public keys are
-- stored: a dump of this table yields nothing to sign in with. `credential` is webauthn-rs's
-- stored form (COSE public key, algorithm, signature counter, backup flags). `user_handle` is the
-- random WebAuthn user ID the account's passkeys carry (never the account id or the email).
CREATE TABLE IF NOT EXISTS passkeys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id bytea       NOT NULL UNIQUE,
    user_handle   bytea       NOT NULL CHECK (octet_length(user_handle) = 16),
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    credential    jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX IF NOT EXISTS passkeys_account ON passkeys (account_id);
-- The account's WebAuthn user handle: set once, under the account's row lock, by the first
-- passkey registration it starts, so all its passkeys carry the same one.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS passkey_user_handle bytea UNIQUE
    CHECK (octet_length(passkey_user_handle) = 16);

-- A WebAuthn ceremony between its options and the authenticator's response: single-use (the
-- response deletes it), 300 s, shared by every instance. `token_hash` is the SHA-256 of the
-- handle the client holds. A registration is bound to its account and carries the user handle
-- its options named.
CREATE TABLE IF NOT EXISTS webauthn_ceremonies (
    token_hash  bytea       PRIMARY KEY,
    purpose     text        NOT NULL CHECK (purpose IN ('register', 'sign_in')),
    account_id  bigint      REFERENCES accounts (id) ON DELETE CASCADE,
    user_handle bytea,
    state       jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL,
    CHECK ((purpose = 'register') = (account_id IS NOT NULL AND user_handle IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- Signing in with another provider (OpenID Connect). An account made from a provider has no
-- password: `password_set` is false and `password_hash` holds a hash of a random secret nobody
-- knows (so every password check costs the same bcrypt work and fails); the reset flow sets one.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS password_set boolean NOT NULL DEFAULT true;

-- A provider identity (provider + its subject) linked to an account: it signs in to it.
CREATE TABLE IF NOT EXISTS identities (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider   text        NOT NULL,
    subject    text        NOT NULL,
    email      text,                                -- as the provider gave it, for the owner's list
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, subject)
);
CREATE INDEX IF NOT EXISTS identities_account ON identities (account_id);

-- A sign-in sent to a provider, until the browser comes back: the SHA-256 of its `state`, the
-- `nonce` the ID token must carry, the PKCE verifier, where to return, the frontend's own PKCE
-- challenge if it gave one (its login code then needs the verifier), and for a link the account
-- and the session that asked. Single-use (the callback deletes it), 10 minutes.
CREATE TABLE IF NOT EXISTS idp_states (
    state_hash       bytea       PRIMARY KEY,
    provider         text        NOT NULL,
    nonce            text        NOT NULL,
    code_verifier    text        NOT NULL,
    redirect_to      text        NOT NULL,
    client_challenge text,
    link_account_id  bigint      REFERENCES accounts (id) ON DELETE CASCADE,
    link_session_id  bigint,
    expires_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idp_states_expiry ON idp_states (expires_at);

-- The one-time code a provider round trip returns in the redirect's fragment: SHA-256 only, 60
-- seconds, single-use, bound to the account's credential version and to the frontend's PKCE
-- challenge if it gave one. A 'sign_in' code is exchanged for tokens (POST /idp/exchange); a
-- 'link' code carries the identity, and links it only when the session that asked confirms it
-- (POST /me/identities/confirm), so a link started by one person cannot be finished in another's
-- browser.
CREATE TABLE IF NOT EXISTS login_codes (
    code_hash          bytea       PRIMARY KEY,
    purpose            text        NOT NULL CHECK (purpose IN ('sign_in', 'link')),
    account_id         bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_version integer     NOT NULL,
    client_challenge   text,
    session_id         bigint,
    provider           text,
    subject            text,
    email              text,
    expires_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS login_codes_expiry ON login_codes (expires_at);
