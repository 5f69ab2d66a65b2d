//! The second factor: time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA1,
//! 6 digits, 30-second steps, the parameters every authenticator app assumes) and recovery codes.
//!
//! Pure: the time comes in as seconds since the Unix epoch from the database clock; randomness
//! from getrandom. HMAC-SHA1 is RustCrypto's `hmac` + `sha1`.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;

/// Digits of a TOTP code.
pub const TOTP_DIGITS: u32 = 6;
/// Seconds per TOTP step (RFC 6238's default `X`).
pub const STEP_SECONDS: i64 = 30;
/// Steps of clock skew accepted on either side of the current one (RFC 6238 §5.2 recommends at
/// most one).
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a TOTP secret: 160 bits, the length RFC 4226 §4 recommends for HMAC-SHA1.
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A TOTP shared secret. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// A fresh 160-bit secret from the OS CSPRNG. Errors: no randomness.
    pub fn generate() -> Result<TotpSecret, getrandom::Error> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(TotpSecret(bytes))
    }

    /// A secret from stored bytes (after unsealing).
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(bytes)
    }

    /// The raw bytes, for sealing.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32 without padding, as authenticator apps take it.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The step (`unix_seconds / 30`) within ±[`SKEW_STEPS`] of `now_unix` whose code is `code`
    /// and which is newer than `last_used_step`, if any: a code is accepted once, and never one
    /// older than the newest accepted (RFC 6238 §5.2, no replay). All candidate steps are
    /// computed and compared whatever matches, so the time taken tells nothing.
    pub fn matching_step(
        &self,
        code: &TotpCode,
        now_unix: i64,
        last_used_step: Option<i64>,
    ) -> Option<i64> {
        let current = now_unix.div_euclid(STEP_SECONDS);
        let mut found = None;
        for step in current - SKEW_STEPS..=current + SKEW_STEPS {
            let fresh = last_used_step.is_none_or(|last| step > last);
            let same = hotp(&self.0, step as u64, TOTP_DIGITS) == code.0;
            if same && fresh && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the big-endian counter, dynamic truncation, the last
/// `digits` decimal digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return u32::MAX };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// A TOTP code as typed: exactly six ASCII digits (leading zeros kept).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TotpCode(u32);

impl TotpCode {
    /// Six ASCII digits, else `None`.
    pub fn parse(raw: &str) -> Option<TotpCode> {
        let shaped = raw.len() == TOTP_DIGITS as usize && raw.bytes().all(|b| b.is_ascii_digit());
        shaped.then(|| raw.parse().ok().map(TotpCode)).flatten()
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// A single-use recovery code: 10 characters of lowercase base32 (50 bits), shown as
/// `abcde-fghij`. Typed with or without the dash, in any case, with surrounding spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// [`RECOVERY_CODES`] fresh codes. Errors: no randomness.
    pub fn generate_set() -> Result<Vec<RecoveryCode>, getrandom::Error> {
        let mut bytes = [0u8; RECOVERY_CODES * 10];
        getrandom::fill(&mut bytes)?;
        let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
        Ok(bytes
            .chunks(10)
            .map(|chunk| {
                RecoveryCode(chunk.iter().map(|b| alphabet[usize::from(b & 31)] as char).collect())
            })
            .collect())
    }

    /// The normalized form of a typed code, or `None` if it cannot be one.
    pub fn parse(raw: &str) -> Option<RecoveryCode> {
        let compact: String =
            raw.trim().chars().filter(|c| *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        let shaped = compact.len() == 10
            && compact.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        shaped.then_some(RecoveryCode(compact))
    }

    /// The normalized code (what is hashed).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// As shown to the person: `abcde-fghij`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// What a person may type as a second factor: the app's current code, or a recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorCode {
    /// Six digits from the authenticator app.
    Totp(TotpCode),
    /// One of the recovery codes shown at enrolment.
    Recovery(RecoveryCode),
}

impl FactorCode {
    /// Six digits are a TOTP code; ten base32 characters (dash optional) a recovery code.
    pub fn parse(raw: &str) -> Option<FactorCode> {
        TotpCode::parse(raw)
            .map(FactorCode::Totp)
            .or_else(|| RecoveryCode::parse(raw).map(FactorCode::Recovery))
    }
}

/// The `otpauth://` URI authenticator apps read from a QR code (Google Authenticator's Key Uri
/// Format): label `issuer:account`, and the parameters spelled out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={STEP_SECONDS}",
        percent_encode(account),
        secret.base32()
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// RFC 4648 base32 (uppercase alphabet) without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected =
            [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), *want, "counter {counter}");
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_for_sha1() {
        let vectors = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (time, want) in vectors {
            assert_eq!(hotp(RFC_SECRET, time / 30, 8), want, "T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_within_one_step_and_never_twice() {
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec());
        let now = 1_111_111_111; // step 37037037
        let code = |step: i64| {
            TotpCode::parse(&format!("{:06}", hotp(RFC_SECRET, step as u64, 6))).unwrap()
        };
        assert_eq!(secret.matching_step(&code(37037037), now, None), Some(37037037));
        assert_eq!(secret.matching_step(&code(37037036), now, None), Some(37037036));
        assert_eq!(secret.matching_step(&code(37037038), now, None), Some(37037038));
        assert_eq!(secret.matching_step(&code(37037035), now, None), None, "two steps old");
        assert_eq!(secret.matching_step(&code(37037039), now, None), None, "two steps ahead");
        assert_eq!(secret.matching_step(&code(37037037), now, Some(37037037)), None, "replay");
        assert_eq!(secret.matching_step(&code(37037036), now, Some(37037037)), None, "older");
    }

    #[test]
    fn codes_parse_strictly_and_recovery_codes_loosely() {
        assert!(TotpCode::parse("012345").is_some());
        for bad in ["12345", "1234567", "12 456", "+12345", "１２３４５６"] {
            assert!(TotpCode::parse(bad).is_none(), "{bad:?}");
        }
        let set = RecoveryCode::generate_set().unwrap();
        assert_eq!(set.len(), 10);
        let typed = format!("  {}  ", set[0].display().to_uppercase());
        assert_eq!(RecoveryCode::parse(&typed), Some(set[0].clone()));
        assert!(RecoveryCode::parse("abcde-fgh1j").is_none(), "1 is not base32");
    }

    #[test]
    fn the_uri_and_base32_are_what_authenticator_apps_expect() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI"); // RFC 4648 §10
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec());
        assert_eq!(
            otpauth_uri("bee first", "a+b@example.com", &secret),
            "otpauth://totp/bee%20first:a%2Bb%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=bee%20first&algorithm=SHA1&digits=6&period=30"
        );
    }
}
