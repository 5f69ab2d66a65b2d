//! `GET /verify` for gateways, and the gateway example of `deploy/nginx.conf` turned on: nginx
//! in front of a service of the test's own, admitting only requests whose access token beefirst
//! vouches for, and passing the caller's identity on in `X-User-*` headers.

use crate::support::helpers::*;
use crate::support::infra::Nginx;
use serde_json::{Value, json};
use std::sync::Arc;

const PW: &str = "correct horse";

#[test]
fn verify_answers_204_with_who_and_refuses_a_dead_token_or_another_role() {
    let app = TestApp::spawn();
    let token = crate::admin::admin(&app, "root@example.com");
    app.active_account("usr@example.com", PW);
    let user = app.login_ok("usr@example.com", PW);
    let answer = app.with_token("GET", "/verify", &user, None);
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("X-User-Email"), Some("usr@example.com"));
    assert_eq!(answer.header("X-User-Role"), Some("user"));
    assert!(answer.header("X-User-Id").is_some_and(|id| id.parse::<i64>().is_ok()));
    assert!(answer.header("X-Session-Id").is_some_and(|id| id.parse::<i64>().is_ok()));
    assert_eq!(app.with_token("HEAD", "/verify", &user, None).status, 204);
    assert_error(&app.with_token("GET", "/verify?role=admin", &user, None), 403, "forbidden");
    assert_eq!(app.with_token("GET", "/verify?role=admin", &token, None).status, 204);
    assert_error(&app.with_token("GET", "/verify?role=root", &token, None), 400, "invalid_request");
    assert_error(&app.process.send("GET", "/verify", &[], None), 401, "invalid_token");
    assert_eq!(app.with_token("POST", "/logout", &user, None).status, 204);
    assert_error(&app.with_token("GET", "/verify", &user, None), 401, "invalid_token");
}

/// A service of the test's own: it answers 200 with the `X-User-*` headers it received (and
/// whether an `Authorization` header reached it).
fn protected_service() -> (Arc<tiny_http::Server>, std::net::SocketAddr) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap();
    let serving = Arc::clone(&server);
    std::thread::spawn(move || {
        while let Ok(request) = serving.recv() {
            let header = |name: &'static str| {
                request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.to_string())
            };
            let seen = json!({
                "id": header("X-User-Id"), "email": header("X-User-Email"), "role": header("X-User-Role"),
                "authorization": header("Authorization"), "path": request.url(),
            });
            let _ = request.respond(tiny_http::Response::from_string(seen.to_string()));
        }
    });
    (server, addr)
}

#[test]
fn the_shipped_gateway_example_admits_only_live_tokens_and_passes_who_on() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    let (service, service_addr) = protected_service();
    let turn_on = |config: String| {
        assert!(config.contains("#> location /app/ {"), "the example is in deploy/nginx.conf");
        config
            .replace("#> ", "")
            .replace("#>", "")
            .replace("server app:3000;", &format!("server {service_addr};"))
    };
    let nginx = Nginx::start_with(&binary, &[app.process.addr], &turn_on);
    let through = |headers: &[(&str, &str)]| {
        let request = format!(
            "GET /app/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{}\r\n",
            headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect::<String>()
        );
        crate::support::client::exchange(
            nginx.addr(),
            request.as_bytes(),
            std::time::Duration::from_secs(10),
        )
        .unwrap()
    };
    let refused = through(&[]);
    assert_eq!(refused.status, 401);
    assert_eq!(json(&refused)["error"], "invalid_token", "a JSON answer, like beefirst's own");
    let bearer = format!("Bearer {token}");
    let forged = through(&[("Authorization", &bearer), ("X-User-Email", "root@example.com")]);
    assert_eq!(forged.status, 200);
    let seen: Value = json(&forged);
    assert_eq!(seen["email"], "ann@example.com", "the identity is beefirst's, not the client's");
    assert_eq!(seen["role"], "user");
    assert!(seen["id"].as_str().is_some_and(|id| id.parse::<i64>().is_ok()));
    assert!(seen["authorization"].is_null(), "the token itself stays with the gateway");
    assert_eq!(seen["path"], "/app/orders");
    assert_eq!(app.with_token("POST", "/logout", &token, None).status, 204);
    assert_eq!(through(&[("Authorization", &bearer)]).status, 401, "a revoked token at once");
    drop(nginx);
    service.unblock();
}
