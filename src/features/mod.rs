//! One folder per feature, each with the same layers: `api.rs` (the typed requests and answers,
//! and the handlers the web layer's route table names), `flow.rs` (the use cases), `sql.rs` (its
//! statements) and, where there is policy, a pure `decide.rs`. A feature may call another's flow
//! or SQL; it never imports the web layer or the worker.

pub mod account;
pub mod admin;
pub mod audit;
pub mod credentials;
pub mod data_export;
pub mod email_change;
pub mod gateway;
pub mod identities;
pub mod passkeys;
pub mod rate_limits;
pub mod recovery;
pub mod registration;
pub mod sessions;
pub mod sign_in_code;
pub mod totp;
pub mod transfer;
pub mod webhooks;
