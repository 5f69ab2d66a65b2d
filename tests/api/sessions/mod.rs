mod races;
mod tokens;

use crate::support::helpers::*;
use std::sync::{Arc, Barrier};

const PW: &str = "correct horse";

#[test]
fn login_returns_a_bearer_token_that_opens_the_profile() {
    let app = TestApp::spawn();
    app.active_account("ada@example.com", PW);
    let response = app.login("  ADA@example.com ", PW);
    assert_eq!(response.status, 200);
    let body = json(&response);
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_u64()),
        (Some("Bearer"), Some(900))
    );
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a compact JWS");
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(refresh.len(), 43);
    assert!(refresh.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let me = app.with_token("GET", "/me", token, None);
    assert_eq!(me.status, 200);
    let profile = json(&me);
    assert_eq!(profile["email"], "ada@example.com");
    assert_eq!(profile["status"], "active");
    assert_eq!(profile["role"], "user");
    assert!(profile["display_name"].is_null());
    for field in ["created_at", "activated_at"] {
        let at = profile[field].as_str().unwrap();
        assert!(at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{field}: {at}");
    }
}

#[test]
fn failed_logins_are_alike_and_403_needs_the_right_password() {
    let app = TestApp::spawn();
    app.active_account("bo@example.com", PW);
    app.register_ok("pending@example.com", PW);
    app.register_ok("expired@example.com", PW);
    app.expire_in("expired@example.com", -1.0);
    let failures = [
        app.login("bo@example.com", "wrong horse"),
        app.login("nobody@example.com", PW),
        app.login("not-an-email", PW),
        app.login("bo@example.com", &"x".repeat(100)),
        app.login("expired@example.com", PW),
        app.login("pending@example.com", "wrong horse"),
    ];
    for response in &failures {
        assert_error(response, 401, "invalid_credentials");
        assert_eq!(response.header("www-authenticate"), Some(r#"Bearer realm="beefirst""#));
        assert_eq!(response.body, failures[0].body);
    }
    assert_error(&app.login("pending@example.com", PW), 403, "not_activated");
    for body in ["{}", r#"{"email": "bo@example.com"}"#, r#"{"email": 1, "password": "x"}"#] {
        assert_error(&app.post_json("/login", body), 400, "invalid_request");
    }
    assert_error(&app.post_json("/login", "nope"), 400, "invalid_json");
}

#[test]
fn login_failures_are_limited_per_email_even_for_unknown_emails() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "3").start();
    app.active_account("cy@example.com", PW);
    for _ in 0..3 {
        assert_eq!(app.login("cy@example.com", "wrong horse").status, 401);
        assert_eq!(app.login("ghost@example.com", "wrong horse").status, 401);
    }
    let limited = app.login("cy@example.com", PW);
    assert_error(&limited, 429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
    assert_error(&app.login("ghost@example.com", PW), 429, "rate_limited");
    assert_eq!(
        app.login("fresh@example.com", "wrong horse").status,
        401,
        "other emails are unaffected"
    );
}

#[test]
fn logout_revokes_only_that_session() {
    let app = TestApp::spawn();
    app.active_account("di@example.com", PW);
    let first = app.login_ok("di@example.com", PW);
    let second = app.login_ok("di@example.com", PW);
    let logout = app.with_token("POST", "/logout", &first, None);
    assert_eq!(logout.status, 204);
    assert!(logout.body.is_empty() && logout.header("content-type").is_none());
    let revoked = app.with_token("GET", "/me", &first, None);
    assert_error(&revoked, 401, "invalid_token");
    assert_eq!(revoked.header("www-authenticate"), Some(r#"Bearer realm="beefirst""#));
    assert_error(&app.with_token("POST", "/logout", &first, None), 401, "invalid_token");
    assert_eq!(app.with_token("GET", "/me", &second, None).status, 200);
}

#[test]
fn missing_malformed_unknown_and_expired_tokens_are_401() {
    let app = TestApp::spawn();
    app.active_account("ed@example.com", PW);
    let token = app.login_ok("ed@example.com", PW);
    let unknown = "A".repeat(43);
    for bad in ["", "short", unknown.as_str()] {
        assert_error(&app.with_token("GET", "/me", bad, None), 401, "invalid_token");
    }
    assert_error(&app.process.send("GET", "/me", &[], None), 401, "invalid_token");
    let basic_auth = basic("ed@example.com", PW);
    assert_error(
        &app.process.send("GET", "/me", &[("Authorization", &basic_auth)], None),
        401,
        "invalid_token",
    );
    app.sql().execute("UPDATE sessions SET expires_at = now() - interval '1 second'", &[]).unwrap();
    assert_error(&app.with_token("GET", "/me", &token, None), 401, "invalid_token");
}

#[test]
fn tokens_are_stored_only_as_hashes_and_never_logged() {
    let app = TestApp::spawn();
    app.active_account("flo@example.com", PW);
    let login = json(&app.login("flo@example.com", PW));
    let token = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    app.with_token("GET", "/me", &token, None);
    let stored: Vec<u8> =
        app.sql().query_one("SELECT token_hash FROM refresh_tokens", &[]).unwrap().get(0);
    let expected: Vec<u8> =
        app.sql().query_one("SELECT sha256($1::bytea)", &[&refresh.as_bytes()]).unwrap().get(0);
    assert_eq!(stored, expected);
    let dump: String = app
        .sql()
        .query_one(
            "SELECT concat((SELECT string_agg(row_to_json(s)::text, '') FROM sessions s),
                           (SELECT string_agg(row_to_json(r)::text, '') FROM refresh_tokens r),
                           (SELECT string_agg(row_to_json(k)::text, '') FROM signing_keys k))",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!dump.contains(&token) && !dump.contains(&refresh));
    app.process.wait_logged();
    let logs = app.process.stdout().join("\n");
    assert!(!logs.contains(&token) && !logs.contains(&refresh));
}

#[test]
fn concurrent_logins_create_independent_sessions() {
    let app = Arc::new(TestApp::spawn());
    app.active_account("gia@example.com", PW);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (app, barrier) = (Arc::clone(&app), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                app.login_ok("gia@example.com", PW)
            })
        })
        .collect();
    let mut tokens: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 8);
    let sessions: i64 = app.sql().query_one("SELECT count(*) FROM sessions", &[]).unwrap().get(0);
    assert_eq!(sessions, 8);
    assert_eq!(app.with_token("POST", "/logout", &tokens[0], None).status, 204);
    for token in &tokens[1..] {
        assert_eq!(app.with_token("GET", "/me", token, None).status, 200);
    }
}

#[test]
fn the_reaper_deletes_expired_sessions() {
    let app = TestApp::with().env("REAPER_INTERVAL_SECONDS", "1").start();
    app.active_account("hu@example.com", PW);
    app.login_ok("hu@example.com", PW);
    app.sql().execute("UPDATE sessions SET expires_at = now() - interval '1 second'", &[]).unwrap();
    eventually("the reaper to delete the expired session", || {
        let left: i64 = app.sql().query_one("SELECT count(*) FROM sessions", &[]).unwrap().get(0);
        left == 0
    });
}

#[test]
fn activate_and_resend_are_no_way_around_the_login_limit_and_never_block_a_claim() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "3").start();
    app.active_account("ann@example.com", PW);
    // For an active account both endpoints tell the right password from a wrong one.
    assert_error(
        &app.activate("ann@example.com", "wrong horse", "1234"),
        401,
        "invalid_credentials",
    );
    assert_error(&app.resend("ann@example.com", "wrong horse"), 401, "invalid_credentials");
    assert_error(
        &app.activate("ann@example.com", "wrong horse", "1234"),
        401,
        "invalid_credentials",
    );
    assert_error(&app.activate("ann@example.com", PW, "1234"), 429, "rate_limited");
    assert_error(&app.resend("ann@example.com", PW), 429, "rate_limited");
    assert_error(&app.login("ann@example.com", PW), 429, "rate_limited");

    // A pending claim's owner activates whatever strangers did to the email's budget.
    app.register_ok("pen@example.com", PW);
    for _ in 0..3 {
        assert_error(&app.login("pen@example.com", "wrong horse"), 401, "invalid_credentials");
    }
    assert_eq!(app.resend("pen@example.com", PW).status, 202);
    let code = app.last_code_for("pen@example.com");
    assert_eq!(app.activate("pen@example.com", PW, &code).status, 200);
}
