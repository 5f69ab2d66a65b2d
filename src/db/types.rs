//! The domain's types read from PostgreSQL: an email, a role or a status leaves the database as
//! its type. A role or a status is parsed (a value the schema's CHECK constraints let through but
//! the code does not know is an error, never skipped); an email is taken as stored
//! ([`Email::from_stored`]: it was parsed when written). They go in as their text (`as_str`).

use crate::domain::{AccountStatus, Email, Role};
use postgres::types::{FromSql, Type};
use std::error::Error as StdError;

type Failure = Box<dyn StdError + Sync + Send>;

/// Implements `FromSql` (text → the type's parser) for a domain type.
macro_rules! text_value {
    ($type:ty, $parse:expr, $what:literal) => {
        impl<'a> FromSql<'a> for $type {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Failure> {
                let text = <&str as FromSql>::from_sql(ty, raw)?;
                $parse(text)
                    .ok_or_else(|| format!("stored {} {text:?} does not parse", $what).into())
            }

            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }
    };
}

text_value!(Email, |t: &str| Some(Email::from_stored(t)), "email");
text_value!(Role, Role::parse, "role");
text_value!(AccountStatus, AccountStatus::parse, "status");
