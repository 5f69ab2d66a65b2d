-- pgbench script (-M prepared): the statement of GET /admin/events with no filter, first page of
-- 50 (`list` in src/features/audit/sql.rs, one row more than the page). The colons of 'HH24:MI:SS' are
-- spelled chr(58), as in me.sql.
SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'),
       account_id, actor_id, action, client_ip, request_id, details::text
  FROM audit_events
 WHERE (NULL::bigint IS NULL OR account_id = NULL::bigint)
   AND (NULL::text IS NULL OR action = NULL::text)
   AND (NULL::bigint IS NULL OR id < NULL::bigint)
 ORDER BY id DESC
 LIMIT 51;
