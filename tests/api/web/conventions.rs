use crate::support::helpers::*;

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = TestApp::spawn();
    let unknown = app.process.send("GET", "/nope", &[], None);
    assert_error(&unknown, 404, "not_found");
    assert!(body_text(&unknown).contains("/openapi.json"), "a pointer to the API's description");
    let cases = [
        ("GET", "/register", "POST"),
        ("PUT", "/activate", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/openapi.json", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let response = app.process.send(method, path, &[], None);
        assert_error(&response, 405, "method_not_allowed");
        assert_eq!(response.header("allow"), Some(allow));
    }
}

#[test]
fn the_root_points_to_the_api_description() {
    let app = TestApp::spawn();
    let response = app.process.send("GET", "/", &[], None);
    assert_eq!(response.status, 200);
    assert_eq!(json(&response)["openapi"], "/openapi.json");
}

#[test]
fn health_answers_ok_when_the_database_does() {
    let app = TestApp::spawn();
    let response = app.process.send("GET", "/health", &[], None);
    assert_eq!((response.status, json(&response)), (200, serde_json::json!({"status": "ok"})));
}

#[test]
fn bodies_over_8_kib_are_413_and_transfer_encoding_is_refused() {
    let app = TestApp::spawn();
    let padding = "x".repeat(9000);
    let body = format!(r#"{{"email": "a@b.c", "password": "correct horse", "pad": "{padding}"}}"#);
    assert_error(&app.post_json("/register", &body), 413, "payload_too_large");
    let at_limit = format!(
        r#"{{"email": "big@example.com", "password": "correct horse", "pad": "{}"}}"#,
        "x".repeat(8192 - 70)
    );
    assert!(at_limit.len() <= 8192);
    assert_eq!(app.post_json("/register", &at_limit).status, 201);
    let chunked = b"POST /register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    assert_error(&app.process.raw(chunked), 411, "length_required");
}

#[test]
fn every_response_is_json_and_carries_a_request_id() {
    let app = TestApp::spawn();
    let responses = [
        app.process.send("GET", "/health", &[], None),
        app.process.send("GET", "/missing", &[], None),
        app.post_json("/register", "{"),
        app.process.send("GET", "/openapi.json", &[], None),
        app.process.send("GET", "/", &[], None),
    ];
    for response in &responses {
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert!(json(response).is_object());
        assert!(response.body.ends_with(b"\n"), "a terminal's prompt starts on its own line");
        assert!(response.header("x-request-id").is_some_and(|id| !id.is_empty()));
    }
}

#[test]
fn a_sane_request_id_is_echoed_and_an_unsafe_one_replaced() {
    let app = TestApp::spawn();
    let echoed = app.process.send("GET", "/health", &[("X-Request-Id", "abc-123.X_y")], None);
    assert_eq!(echoed.header("x-request-id"), Some("abc-123.X_y"));
    let long = "a".repeat(65);
    for bad in ["has space", "semi;colon", long.as_str()] {
        let replaced = app.process.send("GET", "/health", &[("X-Request-Id", bad)], None);
        let id = replaced.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 16);
    }
}

#[test]
fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::spawn();
    let doc = json(&app.process.send("GET", "/openapi.json", &[], None));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in [
        ("/register", "post"),
        ("/activate", "post"),
        ("/resend", "post"),
        ("/login", "post"),
        ("/logout", "post"),
        ("/me", "get"),
        ("/me", "patch"),
        ("/me", "delete"),
        ("/me/password", "post"),
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/metrics", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
    }
    let register = &doc["paths"]["/register"]["post"]["responses"];
    for status in ["201", "400", "409", "503"] {
        assert!(register[status].is_object(), "register {status}");
    }
    let activate = &doc["paths"]["/activate"]["post"]["responses"];
    for status in ["200", "400", "401", "410", "422", "503"] {
        assert!(activate[status].is_object(), "activate {status}");
    }
}

#[test]
fn the_openapi_document_states_the_configured_code_lengths() {
    let app = TestApp::with()
        .env("CODE_DIGITS", "6")
        .env("HARDENED_CODE_DIGITS", "9")
        .env("RESET_CODE_DIGITS", "7")
        .start();
    let doc = json(&app.process.send("GET", "/openapi.json", &[], None));
    let schemas = &doc["components"]["schemas"];
    let pattern = &schemas["ActivateRequest"]["properties"]["code"]["pattern"];
    assert_eq!(pattern, "^([0-9]{6}|[0-9]{9})$");
    for schema in ["ResetRequest", "CodeRequest"] {
        assert_eq!(schemas[schema]["properties"]["code"]["pattern"], "^[0-9]{7}$", "{schema}");
    }
}
