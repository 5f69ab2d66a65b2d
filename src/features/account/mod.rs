//! The account behind a session: `GET /me`, `PATCH /me`, `POST /me/password`, `DELETE /me`.

pub mod api;
pub mod flow;
pub mod sql;
