-- pgbench script (-M prepared): the statement of GET /me (profile in src/store/sessions.rs).
-- pgbench would take the colons of 'HH24:MI:SS' for variables, so they are spelled chr(58) here;
-- PostgreSQL folds the constant, the plan is the same.
SELECT a.email, a.display_name,
       to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       to_char(a.activated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"')
  FROM sessions s JOIN accounts a ON a.id = s.account_id
 WHERE s.token_hash = sha256(CAST(:token AS bytea)) AND s.expires_at > now();
