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
