//! `SMTP_URL` and its companions (`SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_CA_FILE`): sending mail
//! through an SMTP server, part of [`super::Group::Mail`].
//!
//! - `smtp://host[:port]` (default port 587): STARTTLS, and no mail without it;
//! - `smtps://host[:port]` (default 465): TLS from the first byte;
//! - `smtp://host:port?tls=off`: plain text, only to a loopback host (a relay on this machine, or
//!   Mailpit in docker-compose).
//!
//! Credentials come from the URL (`smtp://user:pass@host`, percent-encoded) or the two settings
//! (which win); certificates are verified against Mozilla's roots and `SMTP_CA_FILE` if given.
//! No error message ever repeats `SMTP_URL` or the password.

use super::groups::Get;
use super::read::ConfigError;
use percent_encoding::percent_decode_str;
use webauthn_rs::prelude::Url;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the start.
    Implicit,
    /// `?tls=off` to a loopback host.
    Plain,
}

/// Where and how mail is sent over SMTP. Its `Debug` leaves the password out.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The server's name (what its certificate must name) or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// STARTTLS, implicit TLS, or plain to loopback.
    pub security: SmtpSecurity,
    /// User name and password for AUTH (PLAIN or LOGIN), if any.
    pub credentials: Option<(String, String)>,
    /// The certificates of `SMTP_CA_FILE` (PEM blocks), trusted besides Mozilla's roots.
    pub ca_certificates: Vec<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("ca_certificates", &self.ca_certificates.len())
            .finish_non_exhaustive()
    }
}

fn invalid(var: &'static str, message: &str) -> ConfigError {
    ConfigError { var, message: message.into() }
}

/// The SMTP settings, or `None` when `SMTP_URL` is unset. Errors: also a companion setting
/// without `SMTP_URL` (a configuration that would silently send nothing through SMTP).
pub(super) fn read(get: Get) -> Result<Option<SmtpSettings>, ConfigError> {
    let (user, pass, ca) =
        (get("SMTP_USERNAME").value, get("SMTP_PASSWORD").value, get("SMTP_CA_FILE").value);
    let Some(raw) = get("SMTP_URL").value else {
        return match [(&user, "SMTP_USERNAME"), (&pass, "SMTP_PASSWORD"), (&ca, "SMTP_CA_FILE")]
            .into_iter()
            .find(|(value, _)| value.is_some())
        {
            Some((_, var)) => Err(invalid(var, "is set but SMTP_URL is not")),
            None => Ok(None),
        };
    };
    let rule = "must be smtp://[user:pass@]host[:port] (STARTTLS), smtps://… (TLS), or \
                smtp://loopback:port?tls=off";
    let url = Url::parse(raw.trim()).map_err(|_| invalid("SMTP_URL", rule))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("SMTP_URL", rule))?;
    // smtp:// is not a scheme the URL standard knows, so a non-ASCII host arrives
    // percent-encoded: decoded here, then IDNA-encoded (what DNS and the certificate name).
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = percent_decode_str(host).decode_utf8().ok().and_then(|h| {
        if h.parse::<std::net::IpAddr>().is_ok() {
            Some(h.into_owned())
        } else {
            idna::domain_to_ascii(&h).ok()
        }
    });
    let host = host.filter(|h| !h.is_empty()).ok_or_else(|| invalid("SMTP_URL", rule))?;
    let tls_off = match url.query() {
        None => false,
        Some("tls=off") => true,
        Some(_) => return Err(invalid("SMTP_URL", "takes no query but ?tls=off")),
    };
    let security = match (url.scheme(), tls_off) {
        ("smtp", false) => SmtpSecurity::StartTls,
        ("smtps", false) => SmtpSecurity::Implicit,
        ("smtp", true) if is_loopback(&host) => SmtpSecurity::Plain,
        ("smtp", true) => {
            return Err(invalid("SMTP_URL", "may use ?tls=off only for a loopback host"));
        }
        _ => return Err(invalid("SMTP_URL", rule)),
    };
    let default_port = if security == SmtpSecurity::Implicit { 465 } else { 587 };
    let decode = |s: &str| {
        percent_decode_str(s).decode_utf8().map(|d| d.into_owned()).map_err(|_| {
            invalid("SMTP_URL", "has a user or password whose percent-encoding is not UTF-8")
        })
    };
    let from_url = match (url.username(), url.password()) {
        ("", None) => None,
        (user, pass) => Some((Some(decode(user)?), pass.map(decode).transpose()?)),
    };
    let user = user.or_else(|| from_url.clone().and_then(|c| c.0));
    let pass = pass.or_else(|| from_url.and_then(|c| c.1));
    let credentials = match (user, pass) {
        (None, None) => None,
        (Some(user), Some(pass)) => Some((user, pass)),
        _ => return Err(invalid("SMTP_PASSWORD", "and SMTP_USERNAME go together")),
    };
    let ca_certificates = match ca {
        None => Vec::new(),
        Some(path) => ca_file(path.trim())?,
    };
    let port = url.port().unwrap_or(default_port);
    Ok(Some(SmtpSettings { host, port, security, credentials, ca_certificates }))
}

/// The certificates of a PEM file, each checked to parse. Errors: unreadable, none, or a bad one.
fn ca_file(path: &str) -> Result<Vec<String>, ConfigError> {
    let fail = |message: String| ConfigError { var: "SMTP_CA_FILE", message };
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot be read ({e})")))?;
    let certificates = pem_certificates(&pem);
    if certificates.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    for certificate in &certificates {
        lettre::transport::smtp::client::Certificate::from_pem(certificate.as_bytes())
            .map_err(|e| fail(format!("holds a certificate that does not parse ({e})")))?;
    }
    Ok(certificates)
}

/// Each `BEGIN CERTIFICATE` block of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    text.split_inclusive(END)
        .filter_map(|part| part.find("-----BEGIN CERTIFICATE-----").map(|at| part[at..].to_owned()))
        .filter(|block| block.ends_with(END))
        .collect()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read::Var;

    fn smtp(vars: &[(&'static str, &str)]) -> Result<Option<SmtpSettings>, ConfigError> {
        let get = |name: &'static str| Var {
            name,
            value: vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()),
        };
        read(&get)
    }

    #[test]
    fn schemes_ports_and_credentials() {
        let s = smtp(&[("SMTP_URL", "smtp://relay.example.com")]).unwrap().unwrap();
        assert_eq!((s.security, s.port, s.credentials), (SmtpSecurity::StartTls, 587, None));
        let s = smtp(&[("SMTP_URL", "smtps://me%40x.io:p%40ss%3Aword@smtp.example.com")])
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Implicit, 465));
        assert_eq!(s.credentials, Some(("me@x.io".into(), "p@ss:word".into())));
        let s = smtp(&[("SMTP_URL", "smtp://127.0.0.1:1025?tls=off")]).unwrap().unwrap();
        assert_eq!((s.security, s.port, s.host.as_str()), (SmtpSecurity::Plain, 1025, "127.0.0.1"));
        let both =
            [("SMTP_URL", "smtp://u:p@h.example"), ("SMTP_USERNAME", "v"), ("SMTP_PASSWORD", "q")];
        assert_eq!(smtp(&both).unwrap().unwrap().credentials, Some(("v".into(), "q".into())));
        assert_eq!(smtp(&[]).unwrap().map(|s| s.host), None);
        let s = smtp(&[("SMTP_URL", "smtp://Bücher.example")]).unwrap().unwrap();
        assert_eq!(s.host, "xn--bcher-kva.example", "IDNA, as DNS and the certificate have it");
        let s = smtp(&[("SMTP_URL", "smtp://[::1]:2525?tls=off")]).unwrap().unwrap();
        assert_eq!((s.host.as_str(), s.security), ("::1", SmtpSecurity::Plain));
        let s = smtp(&[("SMTP_URL", "smtp://u:hunter2@h.example")]).unwrap().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"), "Debug leaves the password out");
        let err = smtp(&[("SMTP_URL", "smtp://u:%FF@h.example")]).unwrap_err();
        assert!(err.message.contains("percent-encoding"));
    }

    #[test]
    fn plain_text_only_to_loopback_and_no_secret_in_an_error() {
        let err =
            smtp(&[("SMTP_URL", "smtp://user:hunter2@mail.example.com:25?tls=off")]).unwrap_err();
        assert!(err.message.contains("loopback") && !err.to_string().contains("hunter2"));
        for bad in ["http://mail.example.com", "smtp://", "smtps://h?tls=off", "smtp://h?x=1"] {
            let err = smtp(&[("SMTP_URL", bad)]).unwrap_err();
            assert_eq!(err.var, "SMTP_URL", "{bad}");
        }
        let err = smtp(&[("SMTP_URL", "smtp://h.example"), ("SMTP_USERNAME", "u")]).unwrap_err();
        assert_eq!(err.var, "SMTP_PASSWORD");
        let err = smtp(&[("SMTP_URL", "smtp://h.example"), ("SMTP_CA_FILE", "/nonexistent.pem")])
            .unwrap_err();
        assert_eq!(err.var, "SMTP_CA_FILE");
    }
}
