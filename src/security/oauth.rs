//! The OAuth 2.0 presets, for providers that sign people in without OpenID Connect: GitHub and
//! Facebook. The browser goes to the authorization endpoint with `state` and a PKCE challenge
//! (S256); the code comes back and is exchanged server-side with the client secret; then the
//! provider's user API says who it is. There is no ID token to verify: the identity is what the
//! provider's own API answers over verified TLS with the access token just issued to us.
//!
//! - **GitHub**: the subject is `/user`'s numeric `id`; the email is the **primary** address of
//!   `/user/emails` and counts as proven only when GitHub marks it `verified`.
//! - **Facebook**: the subject is the Graph API's `/me` `id`. Facebook gives no verification flag
//!   for the address it returns, so it is never taken as proof of the mailbox: a new Facebook
//!   identity makes no account (`email_not_verified`); the owner of an account links it instead.

use crate::config::{OAuthEndpoints, Preset, Provider};
use serde::Deserialize;

/// The identity a provider vouched for (in a verified ID token, or its user API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the provider's stable id of the person.
    pub subject: String,
    /// `email`, if the provider gave one.
    pub email: Option<String>,
    /// `email_verified`: the provider says the person controls that mailbox.
    pub email_verified: bool,
}

/// Why the provider's side failed: what the callback answers with `#error=provider_error`, and
/// what the log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFailure(pub String);

/// Sent to GitHub's API, which refuses requests without one.
const USER_AGENT: &str = "beefirst";

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: serde_json::Value,
    email: Option<String>,
}

#[derive(Deserialize)]
struct Address {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The authorization URL of an OAuth 2.0 preset.
pub fn authorization_url(
    provider: &Provider,
    endpoints: &OAuthEndpoints,
    state: &str,
    code_challenge: &str,
) -> String {
    let scope = match endpoints.preset {
        Preset::GitHub => "read:user user:email",
        Preset::Facebook => "email public_profile",
    };
    let mut url = endpoints.authorization.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", provider.redirect_uri.as_str())
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", code_challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

/// Exchanges `code` and asks the user API who signed in.
pub fn exchange(
    agent: &ureq::Agent,
    provider: &Provider,
    endpoints: &OAuthEndpoints,
    code: &str,
    verifier: &str,
) -> Result<Identity, ProviderFailure> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", provider.redirect_uri.as_str()),
        ("client_id", provider.client_id.as_str()),
        ("client_secret", provider.client_secret.as_str()),
        ("code_verifier", verifier),
    ];
    let mut answer = agent
        .post(endpoints.token.as_str())
        .header("Accept", "application/json")
        .header("User-Agent", USER_AGENT)
        .send_form(form)
        .map_err(|e| failure("token endpoint", e))?;
    if !answer.status().is_success() {
        return Err(ProviderFailure(format!("token endpoint answered {}", answer.status())));
    }
    let tokens: TokenAnswer =
        answer.body_mut().read_json().map_err(|e| failure("token answer", e))?;
    let token = tokens.access_token.ok_or_else(|| {
        ProviderFailure(format!("no access token: {}", tokens.error.unwrap_or_default()))
    })?;
    let user: User = get_json(agent, endpoints.user.as_str(), Some(&token))?;
    let subject = match user.id {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) if !s.is_empty() => s,
        _ => return Err(ProviderFailure("the user API gave no id".into())),
    };
    let (email, email_verified) = match (endpoints.preset, &endpoints.emails) {
        (Preset::GitHub, Some(emails)) => {
            let addresses: Vec<Address> = get_json(agent, emails.as_str(), Some(&token))?;
            match addresses.into_iter().find(|a| a.primary) {
                Some(primary) => (Some(primary.email), primary.verified),
                None => (None, false),
            }
        }
        _ => (user.email, false),
    };
    Ok(Identity { subject, email, email_verified })
}

/// `client_secret_basic` (OpenID Connect Core §9, the default every provider accepts): the
/// client ID and secret, each form-encoded (RFC 6749 §2.3.1), in HTTP Basic.
pub fn client_secret_basic(provider: &Provider) -> String {
    use base64::Engine;
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pair = format!("{}:{}", encode(&provider.client_id), encode(&provider.client_secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

/// A GET to a provider answered 2xx with JSON, with `bearer` as the access token if given (the
/// one outbound read of both the presets and OpenID Connect).
pub(super) fn get_json<T: serde::de::DeserializeOwned>(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
) -> Result<T, ProviderFailure> {
    let mut request =
        agent.get(url).header("Accept", "application/json").header("User-Agent", USER_AGENT);
    if let Some(token) = bearer {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut answer = request.call().map_err(|e| failure(url, e))?;
    if !answer.status().is_success() {
        return Err(ProviderFailure(format!("{url} answered {}", answer.status())));
    }
    answer.body_mut().read_json().map_err(|e| failure(url, e))
}

/// A provider failure saying what failed and why.
pub(super) fn failure(what: &str, error: impl std::fmt::Display) -> ProviderFailure {
    ProviderFailure(format!("{what}: {error}"))
}
