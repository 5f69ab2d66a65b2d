//! [`super::Group::Passkeys`]: where WebAuthn ceremonies are valid (`PUBLIC_URL`,
//! `WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGINS`).

use super::groups::Get;
use super::origins;
use super::read::ConfigError;
use webauthn_rs::prelude::Url;

/// Where passkeys are valid. An authenticator binds each passkey to the relying party ID, and a
/// browser reports the origin of the page that ran the ceremony; both are checked at every
/// ceremony (WebAuthn Level 3, §7.1 steps 9 and 13, §7.2 steps 13 and 15).
#[derive(Clone, Debug)]
pub struct PasskeySettings {
    /// `PUBLIC_URL`: how browsers reach the service or its web client.
    pub public_url: Url,
    /// `WEBAUTHN_RP_ID`: a domain name; every origin's host is it or one of its subdomains.
    pub rp_id: String,
    /// `WEBAUTHN_ORIGINS`: the exact origins whose ceremonies are accepted (at least one).
    pub origins: Vec<Url>,
}

impl PasskeySettings {
    pub(super) fn read(get: Get) -> Result<Self, ConfigError> {
        let public_url = get("PUBLIC_URL").with(
            |v| Url::parse(v).ok().filter(|u| web_scheme(u) && u.host_str().is_some()),
            "must be an http:// or https:// URL with a host, e.g. https://accounts.example.com",
        )?;
        let rp = get("WEBAUTHN_RP_ID");
        let rp_id = match &rp.value {
            None => public_url.host_str().unwrap_or_default().to_owned(),
            Some(_) => rp.text()?.to_ascii_lowercase(),
        };
        if !is_domain(&rp_id) {
            return Err(ConfigError {
                var: if rp.value.is_some() { "WEBAUTHN_RP_ID" } else { "PUBLIC_URL" },
                message: format!(
                    "the relying party ID `{rp_id}` must be a domain name, not an IP address (browsers refuse passkeys for an IP)"
                ),
            });
        }
        let listed = get("WEBAUTHN_ORIGINS");
        let origins = match &listed.value {
            None => vec![Url::parse(&public_url.origin().ascii_serialization()).map_err(|_| {
                ConfigError { var: "PUBLIC_URL", message: "has no origin".into() }
            })?],
            Some(_) => listed.with(
                |v| {
                    let parsed = origins::parse_origins(v)?;
                    let urls: Option<Vec<Url>> = parsed.iter().map(|o| Url::parse(o).ok()).collect();
                    urls.filter(|u| !u.is_empty())
                },
                "must be comma-separated origins like https://accounts.example.com (scheme and host, no path)",
            )?,
        };
        if let Some(outside) = origins.iter().find(|o| !within(o, &rp_id)) {
            return Err(ConfigError {
                var: if listed.value.is_some() { "WEBAUTHN_ORIGINS" } else { "WEBAUTHN_RP_ID" },
                message: format!(
                    "origin {outside} is not on `{rp_id}` or one of its subdomains, so no passkey of this relying party could be used there"
                ),
            });
        }
        Ok(PasskeySettings { public_url, rp_id, origins })
    }
}

fn web_scheme(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// A DNS name (letters, digits, hyphens, dots), not an IP address.
fn is_domain(name: &str) -> bool {
    !name.is_empty()
        && name.parse::<std::net::IpAddr>().is_err()
        && !name.starts_with('[')
        && name.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// True when `origin`'s host is `rp_id` or a subdomain of it (WebAuthn's "registrable domain
/// suffix" rule, without the public-suffix list: an operator's own setting).
fn within(origin: &Url, rp_id: &str) -> bool {
    origin.domain().is_some_and(|host| host == rp_id || host.ends_with(&format!(".{rp_id}")))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::collections::HashMap;

    fn passkeys(vars: &[(&str, &str)]) -> Result<super::PasskeySettings, String> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned()).map(|c| c.passkeys).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_public_url() {
        let p = passkeys(&[]).unwrap();
        assert_eq!(p.public_url.as_str(), "http://localhost:8080/");
        assert_eq!(p.rp_id, "localhost");
        assert_eq!(p.origins.len(), 1);
        assert_eq!(p.origins[0].as_str(), "http://localhost:8080/");
        let p = passkeys(&[("PUBLIC_URL", "https://accounts.example.com/app")]).unwrap();
        assert_eq!(p.rp_id, "accounts.example.com");
        assert_eq!(p.origins[0].origin().ascii_serialization(), "https://accounts.example.com");
    }

    #[test]
    fn the_relying_party_id_covers_every_origin() {
        let p = passkeys(&[
            ("PUBLIC_URL", "https://accounts.example.com"),
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGINS", "https://accounts.example.com,https://example.com"),
        ])
        .unwrap();
        assert_eq!((p.rp_id.as_str(), p.origins.len()), ("example.com", 2));
        let outside = passkeys(&[
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGINS", "https://evilexample.com"),
        ]);
        assert!(outside.unwrap_err().contains("WEBAUTHN_ORIGINS"));
        let ip = passkeys(&[("PUBLIC_URL", "http://127.0.0.1:8080")]);
        assert!(ip.unwrap_err().contains("PUBLIC_URL"));
        assert!(passkeys(&[("PUBLIC_URL", "ftp://example.com")]).is_err());
        assert!(passkeys(&[("WEBAUTHN_ORIGINS", "https://localhost/path")]).is_err());
    }
}
