//! Passkeys (WebAuthn): the name a person gives one, the ceremony handle between the options and
//! the response, and the `amr` of a passkey sign-in.

use super::email::is_shown;
use super::session::OpaqueToken;

/// Handle of a WebAuthn ceremony: returned with the options, sent back with the authenticator's
/// response. Same shape and storage as other opaque tokens (only its SHA-256 is kept); the
/// ceremony it names is single-use and lives `CEREMONY_TTL_SECONDS`.
pub type CeremonyToken = OpaqueToken;

/// How long a ceremony may take between its options and its response, seconds (WebAuthn Level 3
/// §15.1 recommends 300 s for ceremonies that require user verification).
pub const CEREMONY_TTL_SECONDS: u32 = 300;

/// `amr` of a session signed in with a passkey (RFC 8176): `hwk`, proof of possession of a
/// key the authenticator holds, and `user`, the user-verification gesture it required (PIN,
/// fingerprint, face). It is a complete second factor: no TOTP step follows it.
pub const PASSKEY_AMR: [&str; 2] = ["hwk", "user"];

/// Most passkeys one account may hold: enough for every device a person owns, and a bound on
/// the options and lists an account's passkeys make.
pub const MAX_PASSKEYS: usize = 20;

/// Fewest bytes in a credential ID an authenticator may choose (WebAuthn Level 3 §4: at least
/// 16 bytes, 100 bits of entropy).
pub const MIN_CREDENTIAL_ID_BYTES: usize = 16;

/// Most characters in a passkey's name.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// A passkey's name as its owner sees it ("Phone", "YubiKey 5"): trimmed, 1 to
/// [`MAX_PASSKEY_NAME_CHARS`] characters, none invisible, a control or a line break (it is shown in
/// lists and quoted in mails, where such characters could disguise it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// The trimmed name, or `None` when it is empty, too long or holds a control character.
    pub fn parse(raw: &str) -> Option<PasskeyName> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        let ok = (1..=MAX_PASSKEY_NAME_CHARS).contains(&length) && trimmed.chars().all(is_shown);
        ok.then(|| PasskeyName(trimmed.to_owned()))
    }

    /// A name for a passkey registered without one: the device the browser says it is
    /// ("Chrome on Linux"), else "Passkey".
    pub fn for_device(user_agent: Option<&str>) -> PasskeyName {
        let device = user_agent.map(device_name).unwrap_or_default();
        PasskeyName::parse(&device).unwrap_or_else(|| PasskeyName("Passkey".to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// "Browser on System" from a User-Agent header, for people (sessions, default passkey names);
/// empty when neither is recognized. Order matters: Edge and Opera also say Chrome, Chrome also
/// says Safari, Android also says Linux.
pub fn device_name(user_agent: &str) -> String {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(token, _)| has(token))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| has(token))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PasskeyName::parse("  Phone ").unwrap().as_str(), "Phone");
        assert!(PasskeyName::parse(&"é".repeat(64)).is_some());
        for bad in [
            "",
            "  ",
            "tab\there",
            "nul\u{0}",
            "zero\u{200B}width",
            "bidi\u{202E}gnp",
            "line\u{2028}sep",
        ] {
            assert!(PasskeyName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(PasskeyName::parse(&"x".repeat(65)).is_none());
    }

    #[test]
    fn devices_are_named_for_people() {
        let chrome_linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(device_name(chrome_linux), "Chrome on Linux");
        let safari_iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(safari_iphone), "Safari on iPhone");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(device_name(edge), "Edge on Windows");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
        assert_eq!(device_name(android), "Chrome on Android");
        assert_eq!(device_name("curl/8.5.0"), "curl");
        assert_eq!(device_name("something"), "");
        assert_eq!(PasskeyName::for_device(None).as_str(), "Passkey");
        assert_eq!(PasskeyName::for_device(Some(chrome_linux)).as_str(), "Chrome on Linux");
    }
}
