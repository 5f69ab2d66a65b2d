//! Verification codes: the proof that a person reads the mailbox they claim (seed truth #2).

use std::fmt;

/// Shortest and longest code length accepted by `CODE_DIGITS` (the product asks for 4; OWASP ASVS
/// 6.5.4 and NIST SP 800-63B §5.1.3 recommend 6).
pub const CODE_DIGITS_RANGE: std::ops::RangeInclusive<u32> = 4..=8;

/// Range of `HARDENED_CODE_DIGITS`: the length of codes mailed while an email's daily budget of
/// wrong codes is spent.
pub const HARDENED_CODE_DIGITS_RANGE: std::ops::RangeInclusive<u32> = 6..=10;

/// The two code lengths in force: `CODE_DIGITS` normally, `HARDENED_CODE_DIGITS` for an email
/// whose daily budget of wrong codes is spent (contract v2: hardening instead of lockout, so the
/// owner can always register and activate while a guesser's odds drop by 10^(hardened − normal)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLengths {
    /// `CODE_DIGITS`.
    pub normal: u32,
    /// `HARDENED_CODE_DIGITS`.
    pub hardened: u32,
}

impl CodeLengths {
    /// The length of the next code: hardened while the email's wrong-code budget is spent.
    pub fn for_next_code(self, budget_spent: bool) -> u32 {
        if budget_spent { self.hardened } else { self.normal }
    }
}

/// A verification code of exactly `digits` ASCII digits, leading zeros kept (`"0042"`).
///
/// Constructed by [`VerificationCode::parse`] (from a client) or [`VerificationCode::generate`]
/// (from the operating system's CSPRNG). `Debug` never prints the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

/// Why a client's string is not a [`VerificationCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not exactly the configured number of ASCII digits.
    Format,
}

impl VerificationCode {
    /// Accepts ASCII digits (`0`–`9`) in either of the two lengths, nothing else: no sign, no
    /// spaces, no full-width digits. A malformed code is rejected before it can count as a wrong
    /// attempt; a well-formed code of the other length is simply wrong for the claim.
    pub fn parse(raw: &str, lengths: CodeLengths) -> Result<VerificationCode, CodeError> {
        let length_ok = [lengths.normal, lengths.hardened].contains(&(raw.len() as u32));
        if length_ok && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(VerificationCode(raw.to_owned()))
        } else {
            Err(CodeError::Format)
        }
    }

    /// Accepts exactly `digits` ASCII digits, nothing else: the shape of password-reset and
    /// email-change codes (`RESET_CODE_DIGITS`). A malformed code never counts as a wrong attempt.
    pub fn parse_exact(raw: &str, digits: u32) -> Result<VerificationCode, CodeError> {
        if raw.len() == digits as usize && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(VerificationCode(raw.to_owned()))
        } else {
            Err(CodeError::Format)
        }
    }

    /// A uniformly distributed code from the operating system's CSPRNG (getrandom).
    ///
    /// Errors: the OS random source failed (never silently falls back to a weak generator).
    pub fn generate(digits: u32) -> Result<VerificationCode, getrandom::Error> {
        let mut failure = None;
        let code = Self::from_random(digits, || {
            getrandom::u64().unwrap_or_else(|e| {
                failure = Some(e);
                0
            })
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(code),
        }
    }

    /// Builds a uniform code of up to 19 digits from a source of uniform `u64`s by rejection
    /// sampling: values at or above the largest multiple of 10^digits below 2^64 are drawn again,
    /// so `value % 10^digits` has no modulo bias.
    pub fn from_random(digits: u32, mut next_u64: impl FnMut() -> u64) -> VerificationCode {
        let modulus = 10u128.pow(digits);
        let limit = (1u128 << 64) / modulus * modulus;
        let value = loop {
            let candidate = u128::from(next_u64());
            if candidate < limit {
                break candidate % modulus;
            }
        };
        VerificationCode(format!("{value:0width$}", width = digits as usize))
    }

    /// The digits, for hashing and for the mail text only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(<redacted>)")
    }
}

/// What a code mailed to an account's own address is for. Both are `RESET_CODE_DIGITS` long,
/// live `RESET_CODE_TTL_SECONDS` and die after `MAX_RESET_ATTEMPTS` wrong tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// `POST /password/forgot` → `POST /password/reset`.
    PasswordReset,
    /// `POST /login/code` → `POST /login/code/verify` (contract v3, "never locked out").
    SignIn,
}

impl CodePurpose {
    /// The name stored in `mailed_codes.purpose` and `code_requests.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::PasswordReset => "password_reset",
            CodePurpose::SignIn => "sign_in",
        }
    }

    /// The purpose stored as `name`, if it is one.
    pub fn from_name(name: &str) -> Option<CodePurpose> {
        [CodePurpose::PasswordReset, CodePurpose::SignIn].into_iter().find(|p| p.as_str() == name)
    }
}

/// 16 random bytes that make each claim's code hash unique, so equal codes of two claims never
/// hash alike.
///
/// Errors: the OS random source failed.
pub fn code_salt() -> Result<[u8; 16], getrandom::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LENGTHS: CodeLengths = CodeLengths { normal: 4, hardened: 8 };

    #[test]
    fn only_ascii_digits_of_either_length_parse() {
        assert!(VerificationCode::parse("0042", LENGTHS).is_ok());
        assert!(VerificationCode::parse("00420042", LENGTHS).is_ok());
        for bad in [
            "",
            "123",
            "12345",
            "12a4",
            " 1234",
            "1234 ",
            "+123",
            "-123",
            "１２３４",
            "12.4",
            "123456",
            "1234567",
            "123456789",
        ] {
            assert_eq!(VerificationCode::parse(bad, LENGTHS), Err(CodeError::Format), "{bad:?}");
        }
    }

    #[test]
    fn reset_codes_have_exactly_one_length() {
        assert!(VerificationCode::parse_exact("01234567", 8).is_ok());
        for bad in ["1234567", "123456789", "1234 678", "+1234567", "１２３４５６７８", ""]
        {
            assert_eq!(VerificationCode::parse_exact(bad, 8), Err(CodeError::Format), "{bad:?}");
        }
    }

    #[test]
    fn generated_codes_keep_leading_zeros() {
        let code = VerificationCode::from_random(4, || 7);
        assert_eq!(code.expose(), "0007");
        let code = VerificationCode::from_random(8, || 42);
        assert_eq!(code.expose(), "00000042");
    }

    #[test]
    fn values_in_the_biased_tail_are_drawn_again() {
        // The largest multiple of 10_000 at or below 2^64 is 18_446_744_073_709_550_000.
        let mut draws = vec![9_999, u64::MAX, 18_446_744_073_709_550_000].into_iter().rev();
        let code = VerificationCode::from_random(4, || draws.next().unwrap());
        assert_eq!(code.expose(), "9999");
    }

    #[test]
    fn generated_codes_have_the_configured_length_and_vary() {
        for digits in CODE_DIGITS_RANGE.chain(HARDENED_CODE_DIGITS_RANGE) {
            let codes: Vec<_> =
                (0..50).map(|_| VerificationCode::generate(digits).unwrap()).collect();
            assert!(codes.iter().all(|c| c.expose().len() == digits as usize));
            assert!(codes.iter().any(|c| c != &codes[0]), "50 equal codes");
        }
    }

    #[test]
    fn the_next_code_is_hardened_only_while_the_budget_is_spent() {
        assert_eq!(LENGTHS.for_next_code(false), 4);
        assert_eq!(LENGTHS.for_next_code(true), 8);
        assert_eq!(VerificationCode::from_random(10, || 42).expose(), "0000000042");
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let code = VerificationCode::parse("1234", LENGTHS).unwrap();
        assert!(!format!("{code:?}").contains("1234"));
    }
}
