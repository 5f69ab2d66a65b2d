//! Signing in with an OpenID Connect provider, the outbound half: the provider's discovery
//! document and keys (cached, `METADATA_TTL`), the URL that sends a browser to it (authorization
//! code flow with PKCE S256, `state` and `nonce`), the exchange of the code for tokens, and the
//! ID token's verification (OpenID Connect Core 1.0 §3.1.3.7): signature from the provider's JWKS
//! with the algorithm allow-listed (RS256, ES256; never `none` or HMAC), `iss`, `aud`, `exp`,
//! `iat`, then the `nonce` bound to this sign-in. A key the cache does not know is fetched once
//! (the provider rotated its keys). Outbound HTTPS through `ureq` with rustls: certificates are
//! verified against Mozilla's roots, every request bounded by `IDP_TIMEOUT_MS`, no redirects
//! followed.

use super::oauth::{self, failure};
pub use super::oauth::{Identity, ProviderFailure};
use crate::config::{Provider, ProviderKind, outbound_allowed};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use webauthn_rs::prelude::Url;

/// How long a provider's discovery document and keys are used before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);

/// ID-token algorithms accepted: what OpenID Connect providers sign with (Google, Microsoft,
/// Okta, Keycloak: RS256; some ES256). Anything else, `none` and HMAC included, is refused.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// What a provider says about itself (OpenID Connect Discovery 1.0 §3); the fields used.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// Must equal the configured issuer and every ID token's `iss`.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// Where the claims the ID token leaves out are read with the access token.
    pub userinfo_endpoint: Option<String>,
}

struct Cached {
    metadata: Metadata,
    keys: JwkSet,
    fetched: Instant,
    /// Fetched for a key the cache lacked: another such fetch waits ten seconds.
    forced: bool,
}

/// The outbound client and its cache, one per process.
pub struct OidcClient {
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, std::sync::Arc<Cached>>>,
}

/// The claims of an ID token that are read (the rest was validated by `jsonwebtoken`).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
}

/// `email_verified` as a JSON boolean, or (some providers) the string `"true"`.
fn flexible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value == serde_json::Value::Bool(true) || value == serde_json::Value::String("true".into()))
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

/// What the UserInfo endpoint says (OpenID Connect Core §5.3.2); `sub` must be the ID token's.
#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
}

impl OidcClient {
    /// A client whose every request is bounded by `timeout`.
    pub fn new(timeout: Duration) -> OidcClient {
        OidcClient {
            agent: crate::client::agent::bounded(timeout),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Where to send the browser: the provider's authorization endpoint with this sign-in's
    /// `state`, `nonce` and PKCE `code_challenge` (S256 of the verifier kept server-side).
    pub fn authorization_url(
        &self,
        provider: &Provider,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, ProviderFailure> {
        if let ProviderKind::OAuth(endpoints) = &provider.kind {
            return Ok(oauth::authorization_url(provider, endpoints, state, code_challenge));
        }
        let cached = self.cached(provider, false)?;
        let mut url = endpoint(&cached.metadata.authorization_endpoint, &cached.metadata.issuer)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", provider.redirect_uri.as_str())
            .append_pair("scope", "openid email profile")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchanges `code` (with the PKCE `verifier`) at the token endpoint and verifies the ID
    /// token that comes back, `nonce` included.
    pub fn exchange(
        &self,
        provider: &Provider,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Identity, ProviderFailure> {
        if let ProviderKind::OAuth(endpoints) = &provider.kind {
            return oauth::exchange(&self.agent, provider, endpoints, code, verifier);
        }
        let cached = self.cached(provider, false)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", provider.redirect_uri.as_str()),
            ("client_id", &provider.client_id),
            ("code_verifier", verifier),
        ];
        let token_url = endpoint(&cached.metadata.token_endpoint, &cached.metadata.issuer)?;
        let mut answer = self
            .agent
            .post(token_url.as_str())
            .header("Accept", "application/json")
            .header("Authorization", &oauth::client_secret_basic(provider))
            .send_form(form)
            .map_err(|e| failure("token endpoint", e))?;
        if !answer.status().is_success() {
            return Err(ProviderFailure(format!("token endpoint answered {}", answer.status())));
        }
        let tokens: TokenAnswer =
            answer.body_mut().read_json().map_err(|e| failure("token answer", e))?;
        let id_token = tokens.id_token.ok_or_else(|| ProviderFailure("no id_token".into()))?;
        let claims = self.verify(provider, &cached, &id_token)?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(ProviderFailure("the ID token's nonce is not this sign-in's".into()));
        }
        let mut identity = Identity {
            subject: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified,
        };
        // In the code flow a provider may keep the email for its UserInfo endpoint (Core §5.4).
        if let (None, Some(url), Some(token)) =
            (&identity.email, &cached.metadata.userinfo_endpoint, &tokens.access_token)
        {
            let info: UserInfo = oauth::get_json(
                &self.agent,
                endpoint(url, &cached.metadata.issuer)?.as_str(),
                Some(token),
            )?;
            if info.sub != identity.subject {
                return Err(ProviderFailure("UserInfo names another subject".into()));
            }
            (identity.email, identity.email_verified) = (info.email, info.email_verified);
        }
        Ok(identity)
    }

    /// The ID token's signature and standard claims; a `kid` the cached keys lack is looked up
    /// once more in freshly fetched keys.
    fn verify(
        &self,
        provider: &Provider,
        cached: &Cached,
        token: &str,
    ) -> Result<Claims, ProviderFailure> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| failure("ID token header", e))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(ProviderFailure(format!("ID token signed with {:?}", header.alg)));
        }
        // No `kid`: the provider's only key. An unknown `kid`: one fresh fetch (a rotation), then
        // no other for ten seconds, so bad tokens cannot make us hammer the provider.
        let pick = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None => (keys.keys.len() == 1).then(|| keys.keys[0].clone()),
        };
        let stale = !cached.forced || cached.fetched.elapsed() > Duration::from_secs(10);
        let jwk = match pick(&cached.keys) {
            Some(jwk) => jwk,
            None if header.kid.is_some() && stale => pick(&self.cached(provider, true)?.keys)
                .ok_or_else(|| ProviderFailure("no key with the ID token's kid".into()))?,
            None => return Err(ProviderFailure("no key for the ID token".into())),
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| failure("provider key", e))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&cached.metadata.issuer]);
        validation.set_audience(&[&provider.client_id]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| failure("ID token", e))?;
        Ok(data.claims)
    }

    /// The provider's metadata and keys: cached, or fetched when absent, older than
    /// [`METADATA_TTL`], or `refresh` is asked.
    fn cached(
        &self,
        provider: &Provider,
        refresh: bool,
    ) -> Result<std::sync::Arc<Cached>, ProviderFailure> {
        let known = self.cache.lock().ok().and_then(|c| c.get(&provider.name).cloned());
        if let Some(known) = known.filter(|k| !refresh && k.fetched.elapsed() < METADATA_TTL) {
            return Ok(known);
        }
        let ProviderKind::Oidc { issuer } = &provider.kind else {
            return Err(ProviderFailure("not an OpenID Connect provider".into()));
        };
        let issuer = issuer.as_str().trim_end_matches('/');
        let metadata: Metadata = oauth::get_json(
            &self.agent,
            &format!("{issuer}/.well-known/openid-configuration"),
            None,
        )?;
        if metadata.issuer.trim_end_matches('/') != issuer {
            return Err(ProviderFailure(format!("discovery names issuer {}", metadata.issuer)));
        }
        let keys: JwkSet = oauth::get_json(
            &self.agent,
            endpoint(&metadata.jwks_uri, &metadata.issuer)?.as_str(),
            None,
        )?;
        let fresh = std::sync::Arc::new(Cached {
            metadata,
            keys,
            fetched: Instant::now(),
            forced: refresh,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(provider.name.clone(), std::sync::Arc::clone(&fresh));
        }
        Ok(fresh)
    }
}

/// A provider's endpoint, if the service may call it: `https://`, or `http://` on loopback only
/// for an issuer that is itself on loopback (a discovery document cannot point the client secret
/// at this machine's services).
fn endpoint(raw: &str, issuer: &str) -> Result<Url, ProviderFailure> {
    let local_issuer = issuer.starts_with("http://");
    Url::parse(raw)
        .ok()
        .filter(|u| outbound_allowed(u) && (local_issuer || u.scheme() == "https"))
        .ok_or_else(|| ProviderFailure(format!("endpoint {raw} is not https://")))
}
