// A certified OpenID Connect provider (panva/oidc-provider, OpenID Certified) for beefirst's
// integration tests: one confidential client, accounts made up from the login name, the
// development login and consent pages driven by the test over HTTP. Started by
// tests/api/identities/certified.rs; prints one JSON line when it listens.
//
// Login names are `subject~email~verified` (e.g. `ann~ann@example.com~true`): the account's
// claims. As the specification says for the code flow, `email` and `email_verified` come from
// the UserInfo endpoint, not the ID token (conformIdTokenClaims, the default).
import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const issuer = `http://127.0.0.1:${PORT}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  async findAccount(ctx, id) {
    const [subject, email, verified] = id.split('~');
    return {
      accountId: id,
      async claims() {
        return { sub: subject, email, email_verified: verified === 'true' };
      },
    };
  },
  cookies: { keys: ['beefirst-tests-only'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});

provider.listen(Number(PORT), '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'listening', issuer }));
});
