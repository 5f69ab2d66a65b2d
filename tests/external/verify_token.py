#!/usr/bin/env python3
"""How another service verifies beefirst's access tokens, with PyJWT (pip install 'pyjwt[crypto]').

Usage: verify_token.py BASE_URL ACCESS_TOKEN [ISSUER]
Fetches BASE_URL/.well-known/jwks.json (PyJWKClient caches it and fetches again for an unknown
kid), checks the signature (EdDSA only), iss and exp, and prints the claims as JSON. Exit 1 with
the reason on stderr if the token is not valid. Signature checks alone cannot see a logout or a
password change: such a token stays valid here until its exp (at most ACCESS_TOKEN_TTL_SECONDS).
"""
import json
import sys

import jwt


def main():
    base_url, token = sys.argv[1], sys.argv[2]
    issuer = sys.argv[3] if len(sys.argv) > 3 else "beefirst"
    keys = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
    try:
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key, algorithms=["EdDSA"], issuer=issuer,
                            options={"require": ["exp", "iat", "sub", "sid"]})
    except jwt.PyJWTError as error:
        print(f"invalid token: {error}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(claims, sort_keys=True))


if __name__ == "__main__":
    main()
