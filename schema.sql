-- beefirst schema. Applied at every start, under an advisory lock, so it must stay idempotent:
-- only CREATE ... IF NOT EXISTS and other statements that are safe to repeat.

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

-- Login sessions: opaque bearer tokens, stored only as SHA-256 (the token itself is 32 random
-- bytes shown once to the client). Absolute expiry by the database clock. Deleting an account
-- deletes its sessions in the same statement (ON DELETE CASCADE); the reaper deletes expired ones.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  bytea       PRIMARY KEY,    -- sha256(token)
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);

-- Credential versions. `accounts.credential_version` changes whenever the password that proves
-- the identity changes (password change, a replaced claim); a session records the version it was
-- created under and counts only while the two are equal. So a login that checked the old password
-- while a change was committing gets a session that is dead at once, whatever the interleaving.
-- Databases created before these columns existed are upgraded. The ALTERs run only when a column
-- is missing: even with IF NOT EXISTS, ALTER TABLE takes an exclusive lock first, and every start
-- would queue behind (and then block) all other use of the tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts'
                      AND column_name = 'credential_version') THEN
        ALTER TABLE accounts ADD COLUMN credential_version integer NOT NULL DEFAULT 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'sessions'
                      AND column_name = 'credential_version') THEN
        ALTER TABLE sessions ADD COLUMN credential_version integer NOT NULL DEFAULT 0;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
