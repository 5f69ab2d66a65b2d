-- pgbench script (-M prepared): the statement of GET /.well-known/jwks.json (`listed` in
-- src/features/sessions/sql/keys.rs).
SELECT kid, public_key FROM signing_keys WHERE listed_until > now()
 ORDER BY listed_until DESC;
