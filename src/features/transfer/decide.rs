//! One line of an import, parsed: what `beefirst import` accepts, and why it refuses the rest.
//! Pure: no I/O, no clock.

use super::api::ImportLine;
use crate::domain::{DisplayName, Email, ImportedHash, Role};

/// An account to make from one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Normalized.
    pub email: Email,
    /// `None`: the account has no password (it signs in by emailed code, passkey or provider);
    /// so is an account whose email was not verified (its password is dropped: credentials of an
    /// unproven mailbox are not kept, seed truth #6).
    pub password_hash: Option<ImportedHash>,
    /// Trimmed.
    pub display_name: Option<DisplayName>,
    /// `user` unless the line says `admin`.
    pub role: Role,
    /// RFC 3339, as given; `None`: the import's time.
    pub created_at: Option<String>,
}

/// Parses one NDJSON line. Errors: the reason, for the report (`line N: reason`).
pub fn parse_line(text: &str) -> Result<NewAccount, String> {
    let line: ImportLine = serde_json::from_str(text).map_err(|e| {
        let e = e.to_string();
        if e.contains("unknown field") {
            e
        } else {
            format!("not a JSON object of an account: {e}")
        }
    })?;
    let email =
        Email::parse(&line.email).map_err(|_| format!("email {:?} is not an email", line.email))?;
    let verified = line.email_verified.unwrap_or(true);
    let password_hash = match line.password_hash.as_deref() {
        Some(hash) if verified => Some(ImportedHash::parse(hash)?),
        _ => None,
    };
    let display_name = match line.display_name.as_deref() {
        None => None,
        Some(name) => Some(
            DisplayName::parse(name)
                .ok_or("display_name must be 1 to 100 printable characters".to_owned())?,
        ),
    };
    let role = match line.role.as_deref() {
        None => Role::User,
        Some(role) => Role::parse(role).ok_or(format!("role {role:?} is not user or admin"))?,
    };
    let created_at = match line.created_at {
        Some(at) if is_rfc3339(&at) => Some(at),
        Some(at) => return Err(format!("created_at {at:?} is not an RFC 3339 time from 1970 on")),
        None => None,
    };
    Ok(NewAccount { email, password_hash, display_name, role, created_at })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` naming a real instant from 1970 to 9999 (a `t`
/// or a space for the `T` too, as RFC 3339 allows).
pub fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return false;
    }
    if b[13] != b':' || b[16] != b':' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (digits(11..13), digits(14..16), digits(17..19))
    else {
        return false;
    };
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    let zone = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            let (h, m) = (rest[1..3].parse::<u32>(), rest[4..6].parse::<u32>());
            matches!((h, m), (Ok(h), Ok(m)) if h < 24 && m < 60)
        }
        _ => false,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    zone && (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days[month as usize - 1]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_parses_and_an_unverified_email_drops_its_password() {
        let hash = "$2b$10$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        let line = format!(
            r#"{{"email":" Ann@Example.com ","email_verified":true,"password_hash":"{hash}","display_name":" Ann ","role":"admin","created_at":"2021-03-04T05:06:07Z"}}"#
        );
        let account = parse_line(&line).unwrap();
        assert_eq!(account.email.as_str(), "ann@example.com");
        assert_eq!(account.password_hash.as_ref().map(ImportedHash::as_str), Some(hash));
        assert_eq!(account.display_name.as_ref().map(DisplayName::as_str), Some("Ann"));
        assert_eq!(
            (account.role, account.created_at.as_deref()),
            (Role::Admin, Some("2021-03-04T05:06:07Z"))
        );
        let unverified = line.replace(r#""email_verified":true"#, r#""email_verified":false"#);
        assert_eq!(parse_line(&unverified).unwrap().password_hash, None);
        let bare = parse_line(r#"{"email":"bob@example.com"}"#).unwrap();
        assert_eq!((bare.password_hash, bare.role, bare.created_at), (None, Role::User, None));
    }

    #[test]
    fn each_bad_line_says_why() {
        for (line, why) in [
            ("not json", "not a JSON object"),
            ("[1]", "not a JSON object"),
            (r#"{"email":"nobody"}"#, "is not an email"),
            (r#"{"password_hash":"x"}"#, "missing field `email`"),
            (r#"{"email":"a@b.co","pasword_hash":"x"}"#, "unknown field `pasword_hash`"),
            (r#"{"email":"a@b.co","password_hash":"hunter2"}"#, "neither bcrypt"),
            (r#"{"email":"a@b.co","role":"root"}"#, "is not user or admin"),
            (r#"{"email":"a@b.co","display_name":""}"#, "display_name"),
            (r#"{"email":"a@b.co","created_at":"2021-02-29T00:00:00Z"}"#, "created_at"),
        ] {
            let error = parse_line(line).unwrap_err();
            assert!(error.contains(why), "{line}: {error}");
        }
    }

    #[test]
    fn rfc3339_times_are_checked_to_the_day() {
        for ok in [
            "2024-02-29T23:59:59Z",
            "1970-01-01T00:00:00.123456+02:00",
            "2020-12-31 10:00:00-05:30",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-01-01T24:00:00Z",
            "2021-01-01T00:00:00",
            "1969-12-31T23:59:59Z",
            "2021-01-01T00:00:00.Z",
            "2021-01-01T00:00:00+2:00",
            "２０２１-01-01T00:00:00Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
