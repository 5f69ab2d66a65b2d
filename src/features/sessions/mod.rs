//! Login sessions: `POST /login`, the second-factor step (`POST /login/mfa`), the token pair,
//! `POST /token/refresh`, `POST /logout`, the session list, the signing keys (JWKS).

pub mod api;
pub mod decide;
pub mod flow;
pub mod mfa;
pub mod sql;
pub mod tokens;
