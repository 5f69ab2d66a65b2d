# Keycloak realm export (kc.sh export --realm R --users realm_file) → beefirst import NDJSON.
#   jq -c -f deploy/import/keycloak.jq R-realm.json | beefirst import -
# Argon2 password credentials (Keycloak's default since version 24) become Argon2id PHC strings;
# accounts with another kind (PBKDF2) come without a password: they sign in by emailed code and
# may set a new one with the reset flow.
def unpadded: rtrimstr("=") | rtrimstr("=");
def argon2_phc:
  (.secretData | fromjson) as $secret
  | (.credentialData | fromjson) as $data
  | if $data.algorithm == "argon2" and ($data.additionalParameters.type[0] // "id") == "id" then
      "$argon2id$v=19$m=\($data.additionalParameters.memory[0]),t=\($data.hashIterations),p=\($data.additionalParameters.parallelism[0])$\($secret.salt | unpadded)$\($secret.value | unpadded)"
    else null end;
.users[]
| select(.email != null and (.serviceAccountClientId == null))
| {
    email,
    email_verified: (.emailVerified // false),
    password_hash: ([.credentials[]? | select(.type == "password") | argon2_phc] | map(select(. != null)) | first // null),
    display_name: ([.firstName, .lastName] | map(select(. != null and . != "")) | join(" ") | if . == "" then null else . end),
    created_at: (if .createdTimestamp then (.createdTimestamp / 1000 | floor | todate) else null end)
  }
