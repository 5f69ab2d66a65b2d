-- pgbench script (-M prepared): the transaction of POST /token/refresh (`refresh` in
-- src/store/sessions.rs), each client rotating a chain of refresh tokens of its own: token
-- number :base + :client_id * 100000 + :step (the bench stores step 0 for each client first),
-- hashed as the service hashes its tokens (SHA-256 of the token's bytes).
\set tok :base + :client_id * 100000 + :step
\set next :tok + 1
BEGIN;
SELECT id AS sid FROM sessions
 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = sha256(int8send(:tok)))
   FOR UPDATE \gset
UPDATE refresh_tokens SET spent_at = now()
 WHERE token_hash = sha256(int8send(:tok)) AND spent_at IS NULL;
UPDATE sessions s SET last_used_at = now() FROM accounts a
 WHERE s.id = :sid AND a.id = s.account_id AND s.expires_at > now()
   AND s.credential_version = a.credential_version AND a.status = 'active'
   AND a.disabled_at IS NULL
RETURNING a.id, a.email, a.role, s.amr, extract(epoch FROM now())::bigint;
INSERT INTO refresh_tokens (token_hash, session_id) VALUES (sha256(int8send(:next)), :sid);
COMMIT;
\set step :step + 1
