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
    /// Disabled, as by an administrator.
    pub disabled: bool,
}

/// Parses one NDJSON line; bcrypt hashes up to `own_cost` (`BCRYPT_COST`) are accepted even above
/// 16. Errors: the reason, for the report (`line N: reason`).
pub fn parse_line(text: &str, own_cost: u32) -> Result<NewAccount, String> {
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
        Some(hash) if verified => Some(ImportedHash::parse(hash, own_cost)?),
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
    let disabled = line.disabled.unwrap_or(false);
    Ok(NewAccount { email, password_hash, display_name, role, created_at, disabled })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` naming a real instant from 1970-01-01T00:00:00Z
/// to 9999-12-31T23:59:58Z once its offset is applied (a `t` or a space for the `T` too, as RFC
/// 3339 allows), with at most 9 digits of fraction and an offset of at most 14 hours (the widest
/// in use; PostgreSQL refuses past 15). So PostgreSQL takes every value this takes, and an export
/// writes it back in range.
pub fn is_rfc3339(text: &str) -> bool {
    utc_seconds(text).is_some_and(|s| (0..253_402_300_799).contains(&s))
}

/// Seconds since 1970 (UTC) of an RFC 3339 time, if it is one.
fn utc_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let at = |range| digits(text, range);
    let separators = b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-');
    let separators = separators && matches!(b.get(10), Some(b'T' | b't' | b' '));
    if !separators || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (year, month, day) = (at(0..4)?, at(5..7)?, at(8..10)?);
    let (hour, minute, second) = (at(11..13)?, at(14..16)?, at(17..19)?);
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(fraction.len());
        if end == 0 || end > 9 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(rest, 1..3)?, digits(rest, 4..6)?);
            if h > 14 || m > 59 {
                return None;
            }
            (h * 3600 + m * 60) * if *sign == b'+' { 1 } else { -1 }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid_day = (1..=12).contains(&month) && (1..=days_in[month as usize - 1]).contains(&day);
    if !valid_day || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The number written in `text[range]`, if that is all ASCII digits.
fn digits(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
        let account = parse_line(&line, 12).unwrap();
        assert_eq!(account.email.as_str(), "ann@example.com");
        assert_eq!(account.password_hash.as_ref().map(ImportedHash::as_str), Some(hash));
        assert_eq!(account.display_name.as_ref().map(DisplayName::as_str), Some("Ann"));
        assert_eq!(
            (account.role, account.created_at.as_deref()),
            (Role::Admin, Some("2021-03-04T05:06:07Z"))
        );
        let unverified = line.replace(r#""email_verified":true"#, r#""email_verified":false"#);
        assert_eq!(parse_line(&unverified, 12).unwrap().password_hash, None);
        let bare = parse_line(r#"{"email":"bob@example.com"}"#, 12).unwrap();
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
            let error = parse_line(line, 12).unwrap_err();
            assert!(error.contains(why), "{line}: {error}");
        }
    }

    #[test]
    fn rfc3339_times_are_checked_to_the_day() {
        for ok in [
            "2024-02-29T23:59:59Z",
            "1970-01-01T02:00:00.123456+02:00",
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
