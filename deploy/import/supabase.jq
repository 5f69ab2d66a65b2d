# Supabase Auth users → beefirst import NDJSON. Export them as one JSON array first, e.g.
#   psql "$SUPABASE_DB_URL" -XAtc "SELECT json_agg(u) FROM auth.users u" > users.json
#   jq -c -f deploy/import/supabase.jq users.json | beefirst import -
# Supabase stores bcrypt ($2a$10$): it verifies as is and is re-made at BCRYPT_COST on the first
# sign-in. Users without a password (magic link, OAuth) come without one.
.[]
| select(.email != null and .email != "" and (.is_anonymous != true))
| {
    email,
    email_verified: (.email_confirmed_at != null),
    password_hash: (if (.encrypted_password // "") == "" then null else .encrypted_password end),
    display_name: (.raw_user_meta_data.full_name // .raw_user_meta_data.name // null),
    created_at
  }
