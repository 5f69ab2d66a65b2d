//! Access tokens: JSON Web Tokens (RFC 7519) signed with EdDSA over Ed25519 (RFC 8037), in the
//! compact JWS serialization (RFC 7515). Hand-written because it is short: one algorithm, one
//! header shape, and verification that accepts nothing else (no `none`, no HMAC, no other
//! curve), tested against RFC 8037's example.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What an access token says (RFC 7519 registered claims plus ours). No secret is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`: `JWT_ISSUER`.
    pub iss: String,
    /// `sub`: the account id, as a string.
    pub sub: String,
    /// `sid`: the login session it belongs to.
    pub sid: i64,
    /// `email`: the account's normalized email when the token was issued.
    pub email: String,
    /// `role`: `user` or `admin`.
    pub role: String,
    /// `amr`: how the session was authenticated, `["pwd"]` or `["pwd","otp"]` (RFC 8176).
    pub amr: Vec<String>,
    /// `iat`: issued at, seconds since the Unix epoch (database clock).
    pub iat: i64,
    /// `exp`: expires at, seconds since the Unix epoch.
    pub exp: i64,
}

/// Why a token was refused. Every variant becomes the same 401 `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or claims missing or of the wrong type.
    Malformed,
    /// `alg` is not `EdDSA` or `typ` not `JWT`.
    Algorithm,
    /// No key with this `kid` is known.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// Another issuer.
    Issuer,
}

/// A signing key and its key id: the RFC 7638 thumbprint of its public half.
pub struct Key {
    signing: SigningKey,
    /// `kid`.
    pub kid: String,
}

impl Key {
    /// The key of a 32-byte Ed25519 seed (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Key {
        let signing = SigningKey::from_bytes(seed);
        let kid = thumbprint(&signing.verifying_key());
        Key { signing, kid }
    }

    /// The public half, 32 bytes.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The compact JWS of `claims`, header `{"alg":"EdDSA","typ":"JWT","kid"}`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let payload = json!({
            "iss": claims.iss, "sub": claims.sub, "sid": claims.sid, "email": claims.email,
            "role": claims.role, "amr": claims.amr, "iat": claims.iat, "exp": claims.exp,
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        let signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key: base64url(SHA-256 of the canonical JWK
/// `{"crv":"Ed25519","kty":"OKP","x":…}`).
pub fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(key.as_bytes()));
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// The public JWK of a key (RFC 8037 §2, with `kid`, `use` and `alg`), for the JWK Set.
pub fn public_jwk(kid: &str, public: &[u8; 32]) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(public), "kid": kid, "use": "sig", "alg": "EdDSA"})
}

/// The `kid` of a token whose header is exactly an EdDSA JWT (`alg` `EdDSA`, `typ` `JWT`); the
/// caller finds the key, then [`verify`]s. Errors: not a compact JWS, or another algorithm (`none`,
/// `HS256`, … are refused here, before any key is looked at).
pub fn key_id(token: &str) -> Result<String, TokenError> {
    let header = json_part(token.split('.').next().unwrap_or(""))?;
    if header["alg"] != "EdDSA" || header["typ"] != "JWT" {
        return Err(TokenError::Algorithm);
    }
    match header["kid"].as_str() {
        // Our kids are RFC 7638 thumbprints: 43 base64url characters. Nothing else is looked up.
        Some(kid)
            if kid.len() == 43
                && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
        {
            Ok(kid.to_owned())
        }
        Some(_) => Err(TokenError::UnknownKey),
        None => Err(TokenError::Malformed),
    }
}

/// Verifies a compact JWS with `key` (`verify_strict`: no malleable or small-order encodings)
/// and returns its claims, which must name `issuer`. Call [`key_id`] first: the header's
/// algorithm is checked there. Expiry is not checked here: the session lookup compares `exp`
/// with the database clock.
pub fn verify(token: &str, issuer: &str, key: &VerifyingKey) -> Result<Claims, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(TokenError::Malformed);
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    let input = &token[..header.len() + 1 + payload.len()];
    key.verify_strict(input.as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
    let claims = claims(&json_part(payload)?).ok_or(TokenError::Malformed)?;
    if claims.iss != issuer {
        return Err(TokenError::Issuer);
    }
    Ok(claims)
}

fn claims(v: &Value) -> Option<Claims> {
    let text = |name: &str| v[name].as_str().map(str::to_owned);
    Some(Claims {
        iss: text("iss")?,
        sub: text("sub")?,
        sid: v["sid"].as_i64()?,
        email: text("email")?,
        role: text("role")?,
        amr: v["amr"]
            .as_array()?
            .iter()
            .map(|m| m.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
        iat: v["iat"].as_i64()?,
        exp: v["exp"].as_i64()?,
    })
}

fn json_part(part: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(TokenError::Malformed),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 appendix A: the Ed25519 key of A.1, the thumbprint of A.3, the JWS of A.4.
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
    const JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn rfc_key() -> Key {
        Key::from_seed(&URL_SAFE_NO_PAD.decode(D).unwrap().try_into().unwrap())
    }

    #[test]
    fn the_rfc_8037_key_has_its_public_half_and_thumbprint() {
        let key = rfc_key();
        assert_eq!(b64(&key.public()), X);
        assert_eq!(key.kid, THUMBPRINT);
    }

    #[test]
    fn signatures_match_the_rfc_8037_example() {
        let (input, signature) = JWS.rsplit_once('.').unwrap();
        let signed = rfc_key().signing.sign(input.as_bytes());
        assert_eq!(b64(&signed.to_bytes()), signature);
        let public = VerifyingKey::from_bytes(&rfc_key().public()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        assert!(public.verify_strict(input.as_bytes(), &signature).is_ok());
    }

    fn claims() -> Claims {
        Claims {
            iss: "beefirst".into(),
            sub: "7".into(),
            sid: 42,
            email: "me@example.com".into(),
            role: "user".into(),
            amr: vec!["pwd".into()],
            iat: 1_700_000_000,
            exp: 1_700_000_900,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_every_tampering_is_refused() {
        let key = rfc_key();
        let public = VerifyingKey::from_bytes(&key.public()).unwrap();
        let token = key.sign(&claims());
        assert_eq!(key_id(&token).unwrap(), key.kid);
        assert_eq!(verify(&token, "beefirst", &public).unwrap(), claims());
        assert_eq!(verify(&token, "someone-else", &public), Err(TokenError::Issuer));
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let forged = claims_with_role("admin");
        let swapped = format!("{head}.{}.{signature}", b64(forged.as_bytes()));
        assert_eq!(verify(&swapped, "beefirst", &public), Err(TokenError::Signature));
        let other = Key::from_seed(&[7; 32]);
        let other_public = VerifyingKey::from_bytes(&other.public()).unwrap();
        assert_eq!(verify(&token, "beefirst", &other_public), Err(TokenError::Signature));
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"HS256","typ":"JWT","kid":"x"}"#]
        {
            let token = format!("{}.{payload}.{signature}", b64(header.as_bytes()));
            assert_eq!(key_id(&token), Err(TokenError::Algorithm), "{header}");
        }
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &format!("{head}.{payload}.")] {
            assert!(key_id(bad).is_err() || verify(bad, "beefirst", &public).is_err(), "{bad}");
        }
    }

    fn claims_with_role(role: &str) -> String {
        let c = claims();
        json!({"iss": c.iss, "sub": c.sub, "sid": c.sid, "email": c.email, "role": role,
               "amr": c.amr, "iat": c.iat, "exp": c.exp})
        .to_string()
    }
}
