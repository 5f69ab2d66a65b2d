//! Email addresses as identities (seed truth #9, "Normalization").

use std::fmt;
use std::net::Ipv4Addr;
use unicode_normalization::UnicodeNormalization;

/// Longest address accepted, in bytes after normalization (RFC 5321 §4.5.3.1.3 path limit minus
/// the angle brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A normalized email address: one identity, whatever way it was typed.
///
/// Normalization (seed truth #9; failure scenario 6, "case sensitivity trap"): surrounding
/// whitespace trimmed, the local part composed (NFC: `é` typed as one character or as `e` plus an
/// accent is one address) and lowercased, the domain mapped by IDNA (UTS #46: case folded,
/// NFC, Punycode decoded) and kept in its Unicode form. So `John@Example.COM `,
/// `john@example.com`, `x@BÜCHER.de` and `x@xn--bcher-kva.de` are two identities, not four.
/// Constructed by [`Email::parse`], and by [`Email::from_stored`] for an address read back from
/// the database, where only parsed addresses are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// Not exactly one `@`, or nothing before or after it.
    Shape,
    /// Whitespace, a control character, an invisible character (format characters such as
    /// zero-width space, bidi override, BOM; variation selectors, fillers), or one of `< > [ ]`.
    ForbiddenCharacter,
    /// The domain is not a valid (internationalized) domain name, or is an IP address.
    Domain,
    /// Longer than [`MAX_EMAIL_BYTES`] bytes.
    TooLong,
}

impl Email {
    /// Trims surrounding whitespace, checks the characters and the shape, lowercases the local
    /// part and normalizes the domain with IDNA.
    ///
    /// Refused: anything but exactly one `@`; an empty local part or domain; whitespace, control
    /// characters (Unicode Cc) or invisible format characters (Unicode Cf, e.g. U+200B, U+202E,
    /// U+FEFF) anywhere, since they make look-alike identities; angle brackets and address
    /// literals (`a@[127.0.0.1]`) or a bare IPv4 domain; a domain that IDNA (UTS #46, STD3 rules,
    /// DNS lengths) refuses; more than [`MAX_EMAIL_BYTES`] bytes once normalized.
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let trimmed = raw.trim();
        if trimmed.chars().any(is_forbidden) {
            return Err(EmailError::ForbiddenCharacter);
        }
        let (local, domain) = match trimmed.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => (local, domain),
            _ => return Err(EmailError::Shape),
        };
        if domain.contains('@') {
            return Err(EmailError::Shape);
        }
        let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::Domain)?;
        if ascii.parse::<Ipv4Addr>().is_ok() {
            return Err(EmailError::Domain);
        }
        let (domain, errors) = idna::domain_to_unicode(&ascii);
        errors.map_err(|_| EmailError::Domain)?;
        let local: String = local.nfc().collect();
        let normalized = format!("{}@{domain}", local.to_lowercase());
        if normalized.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        Ok(Email(normalized))
    }

    /// An address as the database holds it (the `FromSql` of `db::types`, nothing else): it was
    /// parsed when it was written, so it is not parsed again. A second parse would cost IDNA work
    /// on every read of an account, and an address an older version accepted (before a rule
    /// tightened) would turn every page or worker batch it appears in into an error.
    pub(crate) fn from_stored(stored: &str) -> Email {
        Email(stored.to_owned())
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address for delivery: the domain in its ASCII (Punycode) form, which every mail system
    /// accepts (`anne@bücher.de` → `anne@xn--bcher-kva.de`).
    pub fn for_delivery(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        match idna::domain_to_ascii(domain) {
            Ok(ascii) => format!("{local}@{ascii}"),
            Err(_) => self.0.clone(),
        }
    }

    /// The mailbox that mail to this address lands in, for the per-address mail budget: the
    /// address without a `+tag` in its local part (`me+shop@x.org` → `me@x.org`). Sub-addresses
    /// stay distinct identities, but they share one mailbox's budget, so `+1`, `+2`, … cannot
    /// multiply the mails a person receives.
    pub fn mailbox(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        match local.split_once('+') {
            Some((base, _)) if !base.is_empty() => format!("{base}@{domain}"),
            _ => self.0.clone(),
        }
    }
}

/// Whitespace, Unicode control (Cc) and invisible characters, and the brackets of RFC 5322's
/// angle-addr and address literals.
fn is_forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_invisible(c) || matches!(c, '<' | '>' | '[' | ']')
}

/// A character a name shown to people may hold: none that is a control character, renders as
/// nothing (see [`is_invisible`]) or breaks a line (U+2028, U+2029); the one space is fine.
pub fn is_shown(c: char) -> bool {
    !c.is_control() && !is_invisible(c) && (c == ' ' || !c.is_whitespace())
}

/// Characters that render as nothing: General_Category=Cf (soft hyphen, zero-width space and
/// joiners, bidi controls, word joiner, BOM, …) and the other Default_Ignorable_Code_Points
/// (combining grapheme joiner, Hangul fillers, variation selectors), Unicode 16.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
        | 0xFFF0..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_surrounding_whitespace_are_one_identity() {
        let a = Email::parse("  John@Example.COM \t").unwrap();
        let b = Email::parse("john@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "john@example.com");
    }

    #[test]
    fn malformed_addresses_are_rejected_with_the_rule_they_break() {
        use EmailError::*;
        let cases = [
            ("", Shape),
            ("   ", Shape),
            ("no-at-sign", Shape),
            ("@example.com", Shape),
            ("someone@", Shape),
            ("a@@b.c", Shape),
            ("a@b@c.d", Shape),
            ("some one@example.com", ForbiddenCharacter),
            ("someone@exa\tmple.com", ForbiddenCharacter),
            ("some\u{0}one@example.com", ForbiddenCharacter),
            ("some\u{7f}@example.com", ForbiddenCharacter),
            ("zero\u{200B}width@example.com", ForbiddenCharacter),
            ("bidi\u{202E}moc@example.com", ForbiddenCharacter),
            ("\u{FEFF}bom@example.com", ForbiddenCharacter),
            ("soft\u{AD}hyphen@example.com", ForbiddenCharacter),
            ("hangul\u{3164}filler@example.com", ForbiddenCharacter),
            ("variation\u{FE0F}@example.com", ForbiddenCharacter),
            ("<a@b.c>", ForbiddenCharacter),
            ("a@[127.0.0.1]", ForbiddenCharacter),
            ("a@127.0.0.1", Domain),
            ("a@exa_mple.com", Domain),
            ("a@-example.com", Domain),
            ("a@xn--zz.com", Domain),
            ("a@example..com", Domain),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn unicode_and_punycode_domains_are_one_identity() {
        let unicode = Email::parse("Anne@BÜCHER.de").unwrap();
        let punycode = Email::parse("anne@xn--bcher-kva.de").unwrap();
        assert_eq!(unicode, punycode);
        assert_eq!(unicode.as_str(), "anne@bücher.de");
        assert_eq!(unicode.for_delivery(), "anne@xn--bcher-kva.de");
    }

    #[test]
    fn composed_and_decomposed_accents_are_one_identity() {
        let composed = Email::parse("ren\u{e9}@example.com").unwrap();
        let decomposed = Email::parse("rene\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn length_limit_is_254_bytes_after_normalization() {
        let domain = "@example.com";
        let ok = format!("{}{domain}", "a".repeat(MAX_EMAIL_BYTES - domain.len()));
        assert!(Email::parse(&format!("  {ok}  ")).is_ok());
        let long = format!("a{ok}");
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn unicode_local_parts_are_lowercased_too() {
        let e = Email::parse("ÄNNE@Example.de").unwrap();
        assert_eq!(e.as_str(), "änne@example.de");
    }

    #[test]
    fn sub_addresses_are_distinct_identities_sharing_one_mailbox() {
        let tagged = Email::parse("me+shop@x.org").unwrap();
        let plain = Email::parse("me@x.org").unwrap();
        assert_ne!(tagged, plain);
        assert_eq!(tagged.mailbox(), plain.mailbox());
        assert_eq!(Email::parse("+only@x.org").unwrap().mailbox(), "+only@x.org");
    }
}
