//! Hand-parsed `Authorization` headers, in one place: Basic (RFC 7617) and Bearer (RFC 6750).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The two halves of a Basic Auth header, not yet parsed into domain types: a malformed email or
/// password must still cost a bcrypt verification (see `features::credentials`).
pub struct BasicCredentials {
    /// Text before the first `:`.
    pub email: String,
    /// Text after the first `:` (a password may contain `:`).
    pub password: String,
}

/// Parses `Basic base64(email ":" password)`.
///
/// The scheme is case-insensitive (RFC 7235 §2.1); the decoded bytes are split at the first `:`
/// and must be UTF-8 (RFC 7617 `charset="UTF-8"`). `None` for anything else: missing header, other
/// scheme, bad base64, no colon, invalid UTF-8. The caller answers 401.
pub fn parse_basic(header: Option<&str>) -> Option<BasicCredentials> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(token.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let email = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    let password = String::from_utf8(decoded[colon + 1..].to_vec()).ok()?;
    Some(BasicCredentials { email, password })
}

/// Longest bearer token accepted: an access token is about 450 bytes.
const MAX_BEARER_BYTES: usize = 4096;

/// Parses `Bearer <token>` (scheme case-insensitive) into the token text, if it is at most 4 KiB
/// of base64url characters and dots (the shape of a JWT). `None` for anything else; the caller
/// answers 401 `invalid_token`.
pub fn parse_bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    let shaped = !token.is_empty()
        && token.len() <= MAX_BEARER_BYTES
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    (scheme.eq_ignore_ascii_case("bearer") && shaped).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_parsed_and_checked_for_shape() {
        assert_eq!(parse_bearer(Some("bearer a.b-c_d")), Some("a.b-c_d"));
        let too_long = format!("Bearer {}", "a".repeat(MAX_BEARER_BYTES + 1));
        for bad in [None, Some("Bearer"), Some("Bearer a b"), Some("Basic abc"), Some("Bearer a+b")]
        {
            assert!(parse_bearer(bad).is_none(), "{bad:?}");
        }
        assert!(parse_bearer(Some(&too_long)).is_none());
    }

    fn basic(raw: &[u8]) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn splits_at_the_first_colon_only() {
        let c = parse_basic(Some(&basic(b"Me@Example.com:pa:ss:word"))).unwrap();
        assert_eq!(c.email, "Me@Example.com");
        assert_eq!(c.password, "pa:ss:word");
    }

    #[test]
    fn scheme_is_case_insensitive_and_password_may_be_empty() {
        let header = basic(b"a@b.c:").replace("Basic", "bAsIc");
        let c = parse_basic(Some(&header)).unwrap();
        assert_eq!((c.email.as_str(), c.password.as_str()), ("a@b.c", ""));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let no_colon = basic(b"no-colon");
        let bad_utf8 = basic(b"a@b.c:\xff\xfe");
        let cases: [Option<&str>; 7] = [
            None,
            Some(""),
            Some("Basic"),
            Some("Bearer abc"),
            Some("Basic !!!not-base64!!!"),
            Some(&no_colon),
            Some(&bad_utf8),
        ];
        for header in cases {
            assert!(parse_basic(header).is_none(), "{header:?}");
        }
    }
}
