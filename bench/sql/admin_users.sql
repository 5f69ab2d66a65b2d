-- pgbench script (-M extended: the service plans this search for the filters given, unprepared):
-- the statement of GET /admin/users with no filter, first page of 50 (`list` in
-- src/features/admin/sql.rs, one row more than the page to know whether another follows). The
-- colons of 'HH24:MI:SS' are spelled chr(58), as in me.sql.
SELECT a.id, a.email,
       CASE WHEN a.disabled_at IS NOT NULL THEN 'disabled' ELSE a.status END,
       a.role, a.display_name,
       to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       to_char(a.activated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       to_char(a.disabled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       a.mfa_enabled,
       (SELECT count(*) FROM sessions s
         WHERE s.account_id = a.id AND s.expires_at > now()
           AND s.credential_version = a.credential_version)
  FROM accounts a
 WHERE (NULL::text IS NULL OR a.email LIKE NULL::text)
   AND (false IS NOT TRUE OR a.disabled_at IS NOT NULL)
   AND (NULL::text IS NULL OR (a.status = NULL::text AND a.disabled_at IS NULL))
   AND (NULL::bigint IS NULL OR a.id > NULL::bigint)
 ORDER BY a.id
 LIMIT 51;
