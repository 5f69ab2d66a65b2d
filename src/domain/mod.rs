//! Pure rules of the trust state machine: no I/O, no clock, no tiny_http, no postgres.
//!
//! Everything that arrives from outside is parsed into one of these types at the HTTP boundary
//! ("parse, don't validate"), so the service layer only ever sees values that are already valid.

pub mod account;
pub mod audit;
pub mod code;
pub mod code_check;
pub mod email;
pub mod imported_hash;
pub mod passkey;
pub mod password;
pub mod rate_limit;
pub mod session;
pub mod totp;
pub mod user_event;

pub use account::{AccountStatus, DisplayName, Profile, Role};
pub use audit::AuditAction;
pub use code::{CodeError, CodeLengths, CodePurpose, VerificationCode};
pub use code_check::{CodeOutcome, CodeSnapshot, decide};
pub use email::{Email, EmailError};
pub use imported_hash::ImportedHash;
pub use passkey::{CeremonyToken, PasskeyName};
pub use password::{Password, PasswordError};
pub use session::{MfaToken, OpaqueToken, RefreshToken, SessionRef};
pub use totp::{FactorCode, RecoveryCode, TotpCode, TotpSecret};
pub use user_event::{UserEvent, UserEventType};
