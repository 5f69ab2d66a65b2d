//! `GET /verify`: a reverse proxy or gateway asks whether a request's access token is good
//! (nginx `auth_request`, Traefik `forwardAuth`, Envoy `ext_authz` in HTTP mode).

pub mod api;
pub mod flow;
