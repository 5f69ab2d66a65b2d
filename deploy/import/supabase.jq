# Supabase Auth users → beefirst import NDJSON. Export them as one JSON array first, e.g.
#   psql "$SUPABASE_DB_URL" -XAtc "SELECT json_agg(u) FROM auth.users u" > users.json
#   jq -c -f deploy/import/supabase.jq users.json | beefirst import -
# Supabase stores bcrypt ($2a$10$): it verifies as is and is re-made at BCRYPT_COST on the first
# sign-in. Users without a password (magic link, OAuth) or with another kind of hash come without
# one. Deleted and anonymous users are left out; banned ones come disabled.
def display_name: if type == "string" then (gsub("[\\p{C}]"; "") | ltrimstr(" ") | rtrimstr(" ") | .[0:100]) else "" end
  | if . == "" then null else . end;
.[]
| select(.email != null and .email != "" and .is_anonymous != true and .deleted_at == null)
| {
    email,
    email_verified: (.email_confirmed_at != null),
    password_hash: (.encrypted_password // "" | if startswith("$2") then . else null end),
    display_name: ((.raw_user_meta_data // {}) | (.full_name // .name) | display_name),
    created_at,
    disabled: (.banned_until != null)
  }
