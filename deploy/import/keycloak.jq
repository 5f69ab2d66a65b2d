# Keycloak realm export (kc.sh export --realm R --users realm_file) → beefirst import NDJSON.
#   jq -c -f deploy/import/keycloak.jq R-realm.json | beefirst import -
# Argon2 password credentials (Keycloak's default since version 24) become Argon2id PHC strings;
# accounts with another kind (PBKDF2) come without a password: they sign in by emailed code and
# may set a new one with the reset flow. Disabled users stay disabled; service accounts and users
# without an email are left out.
def unpadded: rtrimstr("=") | rtrimstr("=");
def argon2_phc:
  (.secretData | fromjson) as $secret
  | (.credentialData | fromjson) as $data
  | ($data.additionalParameters // {}) as $p
  | if $data.algorithm == "argon2" and ($p.type[0] // "id") == "id" then
      "$argon2id$v=\(if ($p.version[0] // "1.3") == "1.0" then 16 else 19 end)$m=\($p.memory[0]),t=\($data.hashIterations),p=\($p.parallelism[0])$\($secret.salt | unpadded)$\($secret.value | unpadded)"
    else null end;
# A display name beefirst accepts: text, no control or invisible characters, 1 to 100 of them.
def display_name: if type == "string" then (gsub("[\\p{C}]"; "") | ltrimstr(" ") | rtrimstr(" ") | .[0:100]) else "" end
  | if . == "" then null else . end;
.users[]
| select(.email != null and .email != "" and .serviceAccountClientId == null)
| {
    email,
    email_verified: (.emailVerified // false),
    password_hash: ([.credentials[]? | select(.type == "password") | argon2_phc] | map(select(. != null)) | first // null),
    display_name: ([.firstName, .lastName] | map(select(type == "string" and . != "")) | join(" ") | display_name),
    created_at: (if .createdTimestamp then (.createdTimestamp / 1000 | floor | todate) else null end),
    disabled: (.enabled == false)
  }
