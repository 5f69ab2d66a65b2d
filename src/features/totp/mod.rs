//! The second factor (TOTP, RFC 6238): `POST /me/totp`, `POST /me/totp/confirm`,
//! `DELETE /me/totp`, and checking a code (also for the sign-in's second step).

pub mod api;
pub mod flow;
pub mod sql;
