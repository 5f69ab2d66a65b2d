//! Signing in with another provider (OpenID Connect): the round trip to the provider ([`flow`]
//! sends the browser there and exchanges the login code; [`callback`] decides what the verified
//! identity signs in to), and the owner's linked identities. The protocol's outbound half
//! (discovery, keys, the code exchange, the ID token's checks) is `security::oidc`.

pub mod api;
pub mod callback;
pub mod flow;
pub mod sql;
