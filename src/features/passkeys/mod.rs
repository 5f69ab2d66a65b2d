//! Passkeys (WebAuthn): adding, listing, renaming and removing them under `/me/passkeys`
//! ([`flow`]), and signing in with one, usernameless ([`sign_in`]). The ceremony itself is
//! verified by `security::webauthn`.

pub mod api;
pub mod flow;
pub mod sign_in;
pub mod sql;
