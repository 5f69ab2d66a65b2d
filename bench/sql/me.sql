-- pgbench script (-M prepared): the statement of GET /me (`profile` in src/features/account/sql.rs,
-- the live-session predicate `live_session!` of src/db/mod.rs) for the session of an access token (:sid, :sub,
-- :exp are its claims). pgbench would take the colons of 'HH24:MI:SS' for variables, so they are
-- spelled chr(58) here; PostgreSQL folds the constant, the plan is the same.
SELECT a.email, a.display_name,
       to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       to_char(a.activated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       a.role, a.mfa_enabled
  FROM sessions s, accounts a
 WHERE s.id = :sid AND s.account_id = :sub AND a.id = s.account_id AND s.expires_at > now()
   AND to_timestamp(:exp) > now() AND s.credential_version = a.credential_version
   AND a.disabled_at IS NULL;
