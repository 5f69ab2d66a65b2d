//! [`super::Group::Providers`]: the identity providers a person may sign in with
//! (`IDENTITY_PROVIDERS`, and per provider `IDP_<NAME>_CLIENT_ID`, `IDP_<NAME>_CLIENT_SECRET`,
//! `IDP_<NAME>_ISSUER`), where a sign-in may return to (`REDIRECT_ALLOWED_URLS`), and how long
//! a provider may take to answer (`IDP_TIMEOUT_MS`).

use super::groups::Get;
use super::read::ConfigError;
use std::time::Duration;
use webauthn_rs::prelude::Url;

/// How a provider is spoken to.
#[derive(Clone, Debug)]
pub enum ProviderKind {
    /// OpenID Connect: `IDP_<NAME>_ISSUER` (`google`: `https://accounts.google.com`), its
    /// discovery document at `<issuer>/.well-known/openid-configuration`.
    Oidc {
        /// The issuer.
        issuer: Url,
    },
    /// OAuth 2.0 and the provider's user API: the `github` and `facebook` presets, each endpoint
    /// replaceable by `IDP_<NAME>_AUTHORIZATION_URL`, `_TOKEN_URL`, `_USER_URL`, `_EMAILS_URL`.
    OAuth(Box<OAuthEndpoints>),
}

/// Which OAuth 2.0 preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// GitHub: the user's id from `/user`, the verified primary address from `/user/emails`.
    GitHub,
    /// Facebook: id and email from the Graph API's `/me`; the address is never taken as proven.
    Facebook,
}

/// The endpoints of an OAuth 2.0 preset.
#[derive(Clone, Debug)]
pub struct OAuthEndpoints {
    /// Which preset.
    pub preset: Preset,
    /// Where the browser is sent.
    pub authorization: Url,
    /// Where the code is exchanged.
    pub token: Url,
    /// The signed-in user (`id`, maybe `email`).
    pub user: Url,
    /// GitHub's list of the user's addresses with their verification.
    pub emails: Option<Url>,
}

/// One configured provider.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Its name in `IDENTITY_PROVIDERS` and in the paths: lowercase letters, digits, `-`.
    pub name: String,
    /// `IDP_<NAME>_CLIENT_ID`.
    pub client_id: String,
    /// `IDP_<NAME>_CLIENT_SECRET`.
    pub client_secret: String,
    /// OpenID Connect, or an OAuth 2.0 preset.
    pub kind: ProviderKind,
    /// Where the provider sends the browser back: `PUBLIC_URL` + `/idp/<name>/callback`.
    pub redirect_uri: Url,
}

/// The providers and the redirect rules.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// In `IDENTITY_PROVIDERS` order.
    pub providers: Vec<Provider>,
    /// `REDIRECT_ALLOWED_URLS`: a `redirect_to` is allowed when it equals one of these, or starts
    /// with one that ends in `/`.
    pub redirect_allowed: Vec<Url>,
    /// `IDP_TIMEOUT_MS`: connect + answer budget of each request to a provider.
    pub timeout: Duration,
}

impl ProviderSettings {
    /// The provider called `name`.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub(super) fn read(
        get: Get,
        lookup: &dyn Fn(&str) -> Option<String>,
        public_url: &Url,
    ) -> Result<Self, ConfigError> {
        let names = get("IDENTITY_PROVIDERS").with(
            |v| {
                if v == "empty" {
                    return Some(Vec::new());
                }
                let names: Vec<String> =
                    v.split(',').map(|n| n.trim().to_ascii_lowercase()).collect();
                names.iter().all(|n| is_name(n)).then_some(names)
            },
            "must be comma-separated names of lowercase letters, digits and -",
        )?;
        let providers = names
            .iter()
            .map(|name| provider(name, lookup, public_url))
            .collect::<Result<Vec<_>, _>>()?;
        let allowed = get("REDIRECT_ALLOWED_URLS");
        let redirect_allowed = match &allowed.value {
            None => vec![
                Url::parse(&format!("{}/", public_url.as_str().trim_end_matches('/'))).map_err(
                    |_| ConfigError { var: "PUBLIC_URL", message: "has no origin".into() },
                )?,
            ],
            Some(_) => allowed.with(
                |v| v.split(',').map(|u| Url::parse(u.trim()).ok().filter(web_url)).collect(),
                "must be comma-separated http(s) URLs (an exact URL, or a prefix ending in /)",
            )?,
        };
        let timeout = Duration::from_millis(get("IDP_TIMEOUT_MS").number()?);
        Ok(ProviderSettings { providers, redirect_allowed, timeout })
    }
}

/// `IDP_<NAME>_<what>`, read once at start (the names are only known from `IDENTITY_PROVIDERS`,
/// so they are made here and kept for the process's life: a few bytes per provider).
fn var(name: &str, what: &str) -> &'static str {
    let var = format!("IDP_{}_{what}", name.to_ascii_uppercase().replace('-', "_"));
    Box::leak(var.into_boxed_str())
}

fn provider(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    public_url: &Url,
) -> Result<Provider, ConfigError> {
    let read = |what: &str| {
        let var = var(name, what);
        (var, lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
    };
    let required = |what: &str| {
        let (var, value) = read(what);
        value.ok_or(ConfigError { var, message: format!("is required for provider `{name}`") })
    };
    let (issuer_var, issuer) = read("ISSUER");
    let kind = match (issuer, name) {
        (None, "github" | "facebook") => ProviderKind::OAuth(Box::new(preset(name, &read)?)),
        (issuer, _) => {
            let issuer = match issuer {
                Some(issuer) => issuer,
                None if name == "google" => "https://accounts.google.com".to_owned(),
                None => {
                    let message = format!(
                        "is required for provider `{name}` (its OpenID Connect issuer URL)"
                    );
                    return Err(ConfigError { var: issuer_var, message });
                }
            };
            ProviderKind::Oidc { issuer: outbound(issuer_var, &issuer)? }
        }
    };
    let redirect_uri = public_url.join(&format!("/idp/{name}/callback")).map_err(|_| {
        ConfigError { var: "PUBLIC_URL", message: "cannot carry a callback path".into() }
    })?;
    Ok(Provider {
        name: name.to_owned(),
        client_id: required("CLIENT_ID")?,
        client_secret: required("CLIENT_SECRET")?,
        kind,
        redirect_uri,
    })
}

/// An outbound URL setting, or the error naming `var`.
fn outbound(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).ok().filter(outbound_allowed).ok_or(ConfigError {
        var,
        message: "must be an https:// URL (http:// only for a loopback host)".into(),
    })
}

/// The endpoints of the `github` or `facebook` preset, each replaceable by its setting.
fn preset(
    name: &str,
    read: &dyn Fn(&str) -> (&'static str, Option<String>),
) -> Result<OAuthEndpoints, ConfigError> {
    let endpoint = |what: &str, default: &str| {
        let (var, value) = read(what);
        outbound(var, value.as_deref().unwrap_or(default))
    };
    let graph = "https://graph.facebook.com/v21.0";
    Ok(if name == "github" {
        OAuthEndpoints {
            preset: Preset::GitHub,
            authorization: endpoint(
                "AUTHORIZATION_URL",
                "https://github.com/login/oauth/authorize",
            )?,
            token: endpoint("TOKEN_URL", "https://github.com/login/oauth/access_token")?,
            user: endpoint("USER_URL", "https://api.github.com/user")?,
            emails: Some(endpoint("EMAILS_URL", "https://api.github.com/user/emails")?),
        }
    } else {
        OAuthEndpoints {
            preset: Preset::Facebook,
            authorization: endpoint(
                "AUTHORIZATION_URL",
                "https://www.facebook.com/v21.0/dialog/oauth",
            )?,
            token: endpoint("TOKEN_URL", &format!("{graph}/oauth/access_token"))?,
            user: endpoint("USER_URL", &format!("{graph}/me?fields=id,email"))?,
            emails: None,
        }
    })
}

fn is_name(name: &str) -> bool {
    name != "confirm" // POST /me/identities/confirm
        && !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn web_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
}

/// A URL the service may call: `https://`, or `http://` to a loopback host (a provider on this
/// machine, as in the tests).
pub fn outbound_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => url.host_str().is_some_and(|host| {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::collections::HashMap;

    fn providers(vars: &[(&str, &str)]) -> Result<super::ProviderSettings, String> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned()).map(|c| c.providers).map_err(|e| e.to_string())
    }

    #[test]
    fn providers_come_from_their_own_variables() {
        let none = providers(&[]).unwrap();
        assert!(none.providers.is_empty());
        assert_eq!(none.redirect_allowed[0].as_str(), "http://localhost:8080/");
        let set = providers(&[
            ("IDENTITY_PROVIDERS", "google, corp-sso"),
            ("IDP_GOOGLE_CLIENT_ID", "g-id"),
            ("IDP_GOOGLE_CLIENT_SECRET", "g-secret"),
            ("IDP_CORP_SSO_CLIENT_ID", "c-id"),
            ("IDP_CORP_SSO_CLIENT_SECRET", "c-secret"),
            ("IDP_CORP_SSO_ISSUER", "http://127.0.0.1:9999/realm"),
        ])
        .unwrap();
        let google = set.provider("google").unwrap();
        let super::ProviderKind::Oidc { issuer } = &google.kind else { panic!("google is OIDC") };
        assert_eq!(issuer.as_str(), "https://accounts.google.com/");
        assert_eq!(google.redirect_uri.as_str(), "http://localhost:8080/idp/google/callback");
        assert_eq!(set.provider("corp-sso").unwrap().client_secret, "c-secret");
    }

    #[test]
    fn github_and_facebook_are_oauth_presets_whose_endpoints_can_be_replaced() {
        let set = providers(&[
            ("IDENTITY_PROVIDERS", "github,facebook"),
            ("IDP_GITHUB_CLIENT_ID", "g"),
            ("IDP_GITHUB_CLIENT_SECRET", "s"),
            ("IDP_GITHUB_TOKEN_URL", "http://127.0.0.1:9/token"),
            ("IDP_FACEBOOK_CLIENT_ID", "f"),
            ("IDP_FACEBOOK_CLIENT_SECRET", "s"),
        ])
        .unwrap();
        let super::ProviderKind::OAuth(github) = &set.provider("github").unwrap().kind else {
            panic!("github is an OAuth preset")
        };
        assert_eq!(github.preset, super::Preset::GitHub);
        assert_eq!(github.token.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(github.authorization.as_str(), "https://github.com/login/oauth/authorize");
        let super::ProviderKind::OAuth(facebook) = &set.provider("facebook").unwrap().kind else {
            panic!("facebook is an OAuth preset")
        };
        assert!(facebook.emails.is_none() && facebook.user.as_str().contains("fields=id,email"));
        let plain = providers(&[
            ("IDENTITY_PROVIDERS", "github"),
            ("IDP_GITHUB_CLIENT_ID", "g"),
            ("IDP_GITHUB_CLIENT_SECRET", "s"),
            ("IDP_GITHUB_USER_URL", "http://api.example.com/user"),
        ]);
        assert!(plain.unwrap_err().contains("IDP_GITHUB_USER_URL"));
    }

    #[test]
    fn a_provider_without_what_it_needs_is_refused_naming_the_variable() {
        let no_issuer = providers(&[("IDENTITY_PROVIDERS", "corp"), ("IDP_CORP_CLIENT_ID", "x")]);
        assert!(no_issuer.unwrap_err().contains("IDP_CORP_ISSUER"));
        let missing = providers(&[("IDENTITY_PROVIDERS", "google"), ("IDP_GOOGLE_CLIENT_ID", "x")]);
        assert!(missing.unwrap_err().contains("IDP_GOOGLE_CLIENT_SECRET"));
        let plain = providers(&[
            ("IDENTITY_PROVIDERS", "corp"),
            ("IDP_CORP_CLIENT_ID", "x"),
            ("IDP_CORP_CLIENT_SECRET", "y"),
            ("IDP_CORP_ISSUER", "http://sso.example.com"),
        ]);
        assert!(plain.unwrap_err().contains("IDP_CORP_ISSUER"), "plain http off loopback");
        assert!(providers(&[("IDENTITY_PROVIDERS", "Bad Name")]).is_err());
        assert!(providers(&[("REDIRECT_ALLOWED_URLS", "javascript:alert(1)")]).is_err());
    }
}
