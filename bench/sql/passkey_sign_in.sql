-- pgbench script (-M prepared): the database work of one passkey sign-in, both requests: the
-- ceremony POST /login/passkey/options stores, then POST /login/passkey's transaction
-- (src/features/passkeys/sql/: take_ceremony, lock_account, read, record_use; then
-- sessions::sql::create and the two audit events of uow::sql::insert_events). Each client signs in
-- with the passkey of its own account (credential ID :base + 1 + :client_id, as bench/passkeys.py
-- registers them), so clients do not queue on one account, as in the load. (A colon followed by
-- a name is a pgbench variable: the JSON below has a space after each.)
\set tok random(1, 9000000000000000000)
\set cred :base + 1 + :client_id
INSERT INTO webauthn_ceremonies (token_hash, purpose, account_id, user_handle, state, expires_at)
VALUES (sha256(int8send(:tok)), 'sign_in', NULL, NULL,
        '{"ast": {"credentials": [], "policy": "required", "challenge": "SbnXH1MXp0ltHqzvE1x4CzfQ2qcW8eW7nAa2xIWZ5sE", "appid": null, "allow_backup_eligible_upgrade": false}}',
        now() + make_interval(secs => 300));
BEGIN;
DELETE FROM webauthn_ceremonies
 WHERE token_hash = sha256(int8send(:tok)) AND purpose = 'sign_in' AND account_id IS NOT DISTINCT FROM NULL
RETURNING state::text, user_handle, expires_at > now();
SELECT a.id, a.credential_version, a.disabled_at IS NOT NULL, a.email
  FROM accounts a WHERE a.status = 'active'
   AND a.id = (SELECT account_id FROM passkeys WHERE credential_id = int8send(:cred) || int8send(0))
   FOR NO KEY UPDATE;
SELECT id, user_handle, credential::text FROM passkeys
 WHERE credential_id = int8send(:cred) || int8send(0)
   AND account_id = (SELECT account_id FROM passkeys WHERE credential_id = int8send(:cred) || int8send(0));
UPDATE passkeys SET credential = credential::text::jsonb, last_used_at = now()
 WHERE credential_id = int8send(:cred) || int8send(0);
WITH account AS (
     SELECT id, email, role, credential_version FROM accounts
      WHERE id = (SELECT account_id FROM passkeys WHERE credential_id = int8send(:cred) || int8send(0))
        AND status = 'active' AND disabled_at IS NULL
        AND ('otp' = ANY ('{hwk,user}'::text[]) OR 'hwk' = ANY ('{hwk,user}'::text[]) OR NOT mfa_enabled)
        FOR KEY SHARE
 ), session AS (
     INSERT INTO sessions (account_id, credential_version, amr, user_agent, expires_at)
     SELECT id, credential_version, '{hwk,user}', 'bench', now() + make_interval(secs => 2592000) FROM account
     RETURNING id
 ), token AS (
     INSERT INTO refresh_tokens (token_hash, session_id)
     SELECT sha256(int8send(:tok) || int8send(1)), id FROM session
 )
 SELECT session.id, account.email, account.role, floor(extract(epoch FROM now()))::bigint
   FROM session, account;
INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id, details)
SELECT a.id, a.id, e.action, '127.0.0.1', 'bench', '{"passkey_id": 1, "session_id": 1}'::jsonb
  FROM (SELECT account_id AS id FROM passkeys WHERE credential_id = int8send(:cred) || int8send(0) FOR KEY SHARE) a,
       (VALUES ('login_succeeded'), ('passkey_used')) AS e(action);
COMMIT;
