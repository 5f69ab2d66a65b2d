//! Verification codes: the proof that a person reads the mailbox they claim (seed truth #2).

use std::fmt;

/// Shortest and longest code length accepted by `CODE_DIGITS` (the product asks for 4; OWASP ASVS
/// 6.5.4 and NIST SP 800-63B §5.1.3 recommend 6).
pub const CODE_DIGITS_RANGE: std::ops::RangeInclusive<u32> = 4..=8;

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
    /// Accepts exactly `digits` ASCII digits (`0`–`9`), nothing else: no sign, no spaces, no
    /// full-width digits. A malformed code is rejected before it can count as a wrong attempt.
    pub fn parse(raw: &str, digits: u32) -> Result<VerificationCode, CodeError> {
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
            getrandom::u32().unwrap_or_else(|e| {
                failure = Some(e);
                0
            })
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(code),
        }
    }

    /// Builds a uniform code from a source of uniform `u32`s by rejection sampling: values at or
    /// above the largest multiple of 10^digits below 2^32 are drawn again, so `value % 10^digits`
    /// has no modulo bias.
    pub fn from_random(digits: u32, mut next_u32: impl FnMut() -> u32) -> VerificationCode {
        let modulus = 10u64.pow(digits);
        let limit = (1u64 << 32) / modulus * modulus;
        let value = loop {
            let candidate = u64::from(next_u32());
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

    #[test]
    fn only_exactly_n_ascii_digits_parse() {
        assert!(VerificationCode::parse("0042", 4).is_ok());
        assert!(VerificationCode::parse("123456", 6).is_ok());
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
        ] {
            assert_eq!(
                VerificationCode::parse(bad, 4),
                Err(CodeError::Format),
                "{bad:?}"
            );
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
        // 2^32 = 4_294_967_296; the largest multiple of 10_000 below it is 4_294_960_000.
        let mut draws = vec![9_999, u32::MAX, 4_294_960_000].into_iter().rev();
        let code = VerificationCode::from_random(4, || draws.next().unwrap());
        assert_eq!(code.expose(), "9999");
    }

    #[test]
    fn generated_codes_have_the_configured_length_and_vary() {
        for digits in CODE_DIGITS_RANGE {
            let codes: Vec<_> = (0..50)
                .map(|_| VerificationCode::generate(digits).unwrap())
                .collect();
            assert!(codes.iter().all(|c| c.expose().len() == digits as usize));
            assert!(codes.iter().any(|c| c != &codes[0]), "50 equal codes");
        }
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let code = VerificationCode::parse("1234", 4).unwrap();
        assert!(!format!("{code:?}").contains("1234"));
    }
}
