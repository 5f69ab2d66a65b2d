-- pgbench script (-M prepared): the transaction of POST /token/refresh (`lock_presented` and
-- `rotate` in src/features/sessions/sql/mod.rs), each client rotating a chain of refresh tokens
-- of its own: token number :base + :client_id * 100000 + :step (the bench stores step 0 for each
-- client first), hashed as the service hashes its tokens (SHA-256 of the token's bytes).
\set tok :base + :client_id * 100000 + :step
\set next :tok + 1
BEGIN;
SELECT s.id, s.account_id FROM sessions s
 WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = sha256(int8send(:tok)))
   AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id FOR KEY SHARE)
   FOR UPDATE OF s;
SELECT extract(epoch FROM now() - spent_at)::float8
  FROM refresh_tokens WHERE token_hash = sha256(int8send(:tok));
WITH spent AS (
     UPDATE refresh_tokens SET spent_at = now()
      WHERE token_hash = sha256(int8send(:tok)) AND spent_at IS NULL
     RETURNING session_id
 ), live AS (
     UPDATE sessions s SET last_used_at = now() FROM accounts a, spent
      WHERE s.id = spent.session_id AND a.id = s.account_id AND s.expires_at > now()
        AND s.credential_version = a.credential_version AND a.status = 'active'
        AND a.disabled_at IS NULL
     RETURNING s.id, a.id AS account_id, a.email, a.role, s.amr
 ), stored AS (
     INSERT INTO refresh_tokens (token_hash, session_id)
     SELECT sha256(int8send(:next)), id FROM live
 )
 SELECT id, account_id, email, role, amr, floor(extract(epoch FROM now()))::bigint
   FROM live;
COMMIT;
\set step :step + 1
