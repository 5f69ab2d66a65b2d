//! A password hash brought from another system by `beefirst import`: bcrypt (`$2a$`, `$2b$`,
//! `$2y$`, cost 4 to 16) or Argon2id in the PHC string form. Both verify at sign-in; either is
//! re-made with bcrypt at `BCRYPT_COST` on the first successful one (`features::credentials`).

/// The bcrypt costs accepted on import, up to the service's own `BCRYPT_COST` when that is
/// higher (so an export always imports back): below 4 bcrypt refuses; above 16 one sign-in would
/// take seconds (≈ 15 s at 18 on this machine) and hold a hashing thread that long.
pub const IMPORTED_BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=16;

/// The Argon2id parameters accepted on import: every sign-in attempt against the hash, a wrong
/// password from a stranger included, spends them, so they are bounded like bcrypt's cost.
/// OWASP's recommendations (m=19456 t=2, m=47104 t=1) and Keycloak's default (m=7168 t=5) are
/// well inside.
const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ARGON2_PASSES: u32 = 16;
const MAX_ARGON2_LANES: u32 = 16;
/// The shortest salt accepted, bytes (the PHC string format's own minimum).
const MIN_ARGON2_SALT_BYTES: usize = 8;

/// A hash that passed [`ImportedHash::parse`]: stored as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedHash(String);

impl ImportedHash {
    /// Accepts `$2a$`/`$2b$`/`$2y$` + two-digit cost in [`IMPORTED_BCRYPT_COSTS`] (or up to
    /// `own_cost`) + `$` + 53 characters of bcrypt's alphabet (22 of salt, 31 of digest), or an
    /// Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with bounded parameters.
    /// Errors: why not, for the import report.
    pub fn parse(text: &str, own_cost: u32) -> Result<ImportedHash, String> {
        if text.starts_with("$argon2") {
            return argon2id(text).map(|()| ImportedHash(text.to_owned()));
        }
        let fields: Vec<&str> = text.split('$').collect();
        let ["", variant, cost, rest] = fields.as_slice() else {
            return Err(
                "password_hash is neither bcrypt ($2a$, $2b$, $2y$) nor Argon2id (PHC)".into()
            );
        };
        if !["2a", "2b", "2y"].contains(variant) {
            return Err(format!(
                "password_hash: bcrypt variant ${variant}$ is not accepted ($2a$, $2b$, $2y$)"
            ));
        }
        let cost = cost.parse::<u32>().ok().filter(|_| cost.len() == 2);
        let max = own_cost.max(*IMPORTED_BCRYPT_COSTS.end());
        if !cost.is_some_and(|c| (*IMPORTED_BCRYPT_COSTS.start()..=max).contains(&c)) {
            return Err(format!("password_hash: bcrypt cost must be 04 to {max}"));
        }
        let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
        if rest.len() != 53 || !rest.bytes().all(alphabet) {
            return Err("password_hash: bcrypt salt and digest must be 53 characters".into());
        }
        Ok(ImportedHash(text.to_owned()))
    }

    /// The hash as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn argon2id(text: &str) -> Result<(), String> {
    let parsed = argon2::PasswordHash::new(text)
        .map_err(|e| format!("password_hash: not a valid PHC string ({e})"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!("password_hash: {} is not accepted (Argon2id only)", parsed.algorithm));
    }
    let mut salt = [0u8; 64];
    let salt = parsed.salt.and_then(|s| s.decode_b64(&mut salt).ok()).map_or(0, <[u8]>::len);
    if parsed.hash.is_none() || salt < MIN_ARGON2_SALT_BYTES {
        return Err("password_hash: the PHC string has no hash, or a salt under 8 bytes".into());
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|e| format!("password_hash: Argon2id parameters out of range ({e})"))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_ARGON2_PASSES
        || params.p_cost() > MAX_ARGON2_LANES
    {
        return Err("password_hash: Argon2id needs at most m=262144 (256 MiB), t=16, p=16".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ImportedHash;

    #[test]
    fn bcrypt_variants_and_costs_within_range_pass_everything_else_is_said_why() {
        let digest = "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        for ok in ["$2a$04$", "$2b$12$", "$2y$16$"] {
            assert!(ImportedHash::parse(&format!("{ok}{digest}"), 12).is_ok(), "{ok}");
        }
        for bad in ["$2x$10$", "$2b$03$", "$2b$17$", "$2b$1$", "$1$10$"] {
            assert!(ImportedHash::parse(&format!("{bad}{digest}"), 12).is_err(), "{bad}");
        }
        assert!(ImportedHash::parse(&format!("$2b$17${digest}"), 17).is_ok(), "our own cost");
        assert!(ImportedHash::parse(&format!("$2b$10${}", &digest[1..]), 12).is_err());
        assert!(ImportedHash::parse("plaintext password", 12).is_err());
    }

    #[test]
    fn argon2id_phc_strings_pass_other_argon2_variants_do_not() {
        let ok = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$UJZbyRN3Y9DOF1/CFmj/ilRrO/BEvz8XZh9TqxAWiS8";
        assert!(ImportedHash::parse(ok, 12).is_ok());
        assert!(ImportedHash::parse(&ok.replace("argon2id", "argon2i"), 12).is_err());
        assert!(ImportedHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ", 12).is_err());
        for costly in ["m=4194304,t=2,p=1", "m=19456,t=1000,p=1", "m=19456,t=2,p=255"] {
            assert!(ImportedHash::parse(&ok.replace("m=19456,t=2,p=1", costly), 12).is_err());
        }
        let short_salt = ok.replace("c29tZXNhbHRzb21lc2FsdA", "c2FsdA"); // 4 bytes
        assert!(ImportedHash::parse(&short_salt, 12).is_err());
    }
}
