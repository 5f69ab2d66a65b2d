//! `GET /me/export`: everything beefirst keeps about the caller, as one JSON document (GDPR
//! Art. 15 and 20: access and portability).

pub mod api;
pub mod flow;
