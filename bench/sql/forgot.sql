-- pgbench script (-M prepared): the two statements of POST /password/forgot for an address
-- never seen before: its mailbox's mail budget counted (`check` in src/features/rate_limits/sql.rs,
-- scope 'mail', one hour, the default 10 mails) and the request queued (`queue_request` in
-- src/features/recovery/sql.rs).
-- The service's parameters are written in as constants.
\set n random(1, 2000000000)
INSERT INTO rate_limits AS r
       (scope, subject, window_seconds, bucket_start, previous, current, last_allowed)
VALUES ('mail',
        encode(sha256(convert_to('pg' || :client_id || '-' || :n || '@bench.example', 'UTF8')), 'hex'),
        3600, to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600),
        0, 1, true)
ON CONFLICT (scope, subject) DO UPDATE
   SET (window_seconds, bucket_start, previous, current, last_allowed) = (
       SELECT 3600, EXCLUDED.bucket_start, shifted.previous,
              shifted.current + shifted.allowed::int, shifted.allowed
         FROM (SELECT carried.previous, carried.current,
                      carried.previous
                        * (1 - extract(epoch FROM now() - EXCLUDED.bucket_start) / 3600)
                        + carried.current + 1 <= 10 AS allowed
                 FROM (SELECT CASE WHEN r.bucket_start = EXCLUDED.bucket_start
                                   THEN r.previous
                                   WHEN r.bucket_start = EXCLUDED.bucket_start
                                                         - make_interval(secs => 3600)
                                   THEN r.current
                                   ELSE 0 END AS previous,
                              CASE WHEN r.bucket_start = EXCLUDED.bucket_start
                                   THEN r.current ELSE 0 END AS current) carried
              ) shifted)
RETURNING last_allowed, previous, current, extract(epoch FROM now() - bucket_start)::float8;
INSERT INTO code_requests (purpose, email, client_ip, request_id)
VALUES ('password_reset', 'pg' || :client_id || '-' || :n || '@bench.example', '127.0.0.1', 'pgbench');
