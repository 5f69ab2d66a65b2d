//! Administration: the admin API (`/admin/users…`) and `beefirst admin grant|revoke`.

pub mod api;
pub mod flow;
pub mod sql;
