//! The cryptography the features use, each behind a small interface: bcrypt at idle priority
//! ([`hashing`]), the compact JWS of access tokens ([`jwt`]), sealing of TOTP secrets at rest
//! ([`sealing`]), passkey ceremonies ([`webauthn`]), the
//! signature of webhook deliveries ([`webhook_signature`]).

pub mod hashing;
pub mod jwt;
pub mod keys;
pub mod oauth;
pub mod oidc;
pub mod sealing;
pub mod webauthn;
pub mod webhook_signature;
