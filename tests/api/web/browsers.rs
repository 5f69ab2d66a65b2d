//! What browsers need: CORS for pages on other origins.

use crate::support::helpers::*;

const ALLOWED: &str = "https://app.example.com";

#[test]
fn an_allowed_origin_gets_cors_headers_and_its_preflight_answered() {
    let app = TestApp::with()
        .env("CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:5173")
        .start();
    let answer = app.process.send("GET", "/health", &[("Origin", ALLOWED)], None);
    assert_eq!(answer.header("Access-Control-Allow-Origin"), Some(ALLOWED));
    assert_eq!(answer.header("Vary"), Some("Origin"));
    assert!(
        answer.header("Access-Control-Expose-Headers").is_some_and(|h| h.contains("Retry-After"))
    );
    assert!(answer.header("Access-Control-Allow-Credentials").is_none(), "no credentials mode");

    let preflight = app.process.send(
        "OPTIONS",
        "/me",
        &[
            ("Origin", ALLOWED),
            ("Access-Control-Request-Method", "PATCH"),
            ("Access-Control-Request-Headers", "authorization, content-type"),
        ],
        None,
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some(ALLOWED));
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
    let headers = preflight.header("Access-Control-Allow-Headers").unwrap().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    assert_eq!(preflight.header("Access-Control-Max-Age"), Some("600"));

    let error = app.process.send("GET", "/me", &[("Origin", ALLOWED)], None);
    assert_error(&error, 401, "invalid_token");
    assert_eq!(
        error.header("Access-Control-Allow-Origin"),
        Some(ALLOWED),
        "errors are readable too"
    );
    assert_error(
        &app.process.send("OPTIONS", "/nope", &[("Origin", ALLOWED)], None),
        404,
        "not_found",
    );
}

#[test]
fn another_origin_gets_no_cors_headers_and_cors_is_off_by_default() {
    let app = TestApp::with().env("CORS_ALLOWED_ORIGINS", ALLOWED).start();
    for origin in ["https://evil.example.com", "https://app.example.com.evil.com", "null"] {
        let answer = app.process.send("GET", "/health", &[("Origin", origin)], None);
        assert_eq!(answer.header("Access-Control-Allow-Origin"), None, "{origin}");
        let preflight = app.process.send(
            "OPTIONS",
            "/login",
            &[("Origin", origin), ("Access-Control-Request-Method", "POST")],
            None,
        );
        assert_eq!(preflight.header("Access-Control-Allow-Origin"), None, "{origin}");
        assert_eq!(preflight.header("Access-Control-Allow-Methods"), None, "{origin}");
    }
    let off = TestApp::spawn();
    let answer = off.process.send("GET", "/health", &[("Origin", ALLOWED)], None);
    assert_eq!((answer.header("Access-Control-Allow-Origin"), answer.header("Vary")), (None, None));
    let preflight = off.process.send("OPTIONS", "/login", &[("Origin", ALLOWED)], None);
    assert_eq!((preflight.status, preflight.header("Allow")), (204, Some("POST, OPTIONS")));
}
