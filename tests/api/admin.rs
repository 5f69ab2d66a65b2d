//! Roles, the admin API and the audit trail: every admin endpoint refuses users (403) and
//! strangers (401), no account reaches another, events are written with the change, hold no
//! secret, and go with their account.

use crate::support::helpers::*;
use serde_json::{Value, json};
use std::process::Command;

const PW: &str = "correct horse";

/// Runs `beefirst admin VERB EMAIL` against the app's database: (exit code, stdout, stderr).
pub(crate) fn admin_command(app: &TestApp, verb: &str, email: &str) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_beefirst"))
        .args(["admin", verb, email])
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// An active account made administrator with the subcommand; its access token.
pub(crate) fn admin(app: &TestApp, email: &str) -> String {
    app.active_account(email, PW);
    let (code, out, err) = admin_command(app, "grant", email);
    assert_eq!(code, 0, "{out}{err}");
    app.login_ok(email, PW)
}

fn id_of(app: &TestApp, email: &str) -> i64 {
    app.sql().query_one("SELECT id FROM accounts WHERE email = $1", &[&email]).unwrap().get(0)
}

fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> RawResponse {
    app.with_token(method, path, token, body.map(|b| b.to_string()).as_deref())
}

#[test]
fn the_admin_subcommand_grants_and_revokes_but_never_the_last_admin() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    app.register_ok("pen@example.com", PW);
    let (code, _, err) = admin_command(&app, "grant", "nobody@example.com");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no active account"), "{err}");
    assert_eq!(
        admin_command(&app, "grant", "pen@example.com").0,
        1,
        "a pending claim is no account"
    );
    let (code, out, _) = admin_command(&app, "grant", " Ann@Example.com ");
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    let token = app.login_ok("ann@example.com", PW);
    assert_eq!(json(&app.with_token("GET", "/me", &token, None))["role"], "admin");
    let (code, _, err) = admin_command(&app, "revoke", "ann@example.com");
    assert_eq!(code, 1);
    assert!(err.contains("last administrator"), "{err}");
    app.active_account("bob@example.com", PW);
    assert_eq!(admin_command(&app, "grant", "bob@example.com").0, 0);
    assert_eq!(admin_command(&app, "revoke", "ann@example.com").0, 0);
    assert_eq!(json(&app.with_token("GET", "/me", &token, None))["role"], "user");
    let (code, _, err) = admin_command(&app, "promote", "ann@example.com");
    assert_eq!(code, 2, "{err}");
}

/// Every admin endpoint, with a body where it takes one.
fn admin_endpoints(target: i64) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/admin/users".into(), None),
        ("GET", format!("/admin/users/{target}"), None),
        ("PATCH", format!("/admin/users/{target}"), Some(json!({"role": "admin"}))),
        ("POST", format!("/admin/users/{target}/disable"), None),
        ("POST", format!("/admin/users/{target}/enable"), None),
        ("DELETE", format!("/admin/users/{target}/sessions"), None),
        ("DELETE", format!("/admin/users/{target}"), None),
        ("GET", "/admin/events".into(), None),
    ]
}

#[test]
fn every_admin_endpoint_refuses_a_user_with_403_and_no_token_with_401() {
    let app = TestApp::spawn();
    admin(&app, "root@example.com");
    app.active_account("usr@example.com", PW);
    let user = app.login_ok("usr@example.com", PW);
    let target = id_of(&app, "root@example.com");
    for (method, path, body) in admin_endpoints(target) {
        let body = body.map(|b| b.to_string());
        let none = app.process.send(method, &path, &[], body.as_deref().map(str::as_bytes));
        assert_error(&none, 401, "invalid_token");
        let garbage = app.with_token(method, &path, "garbage", body.as_deref());
        assert_error(&garbage, 401, "invalid_token");
        let as_user = app.with_token(method, &path, &user, body.as_deref());
        assert_error(&as_user, 403, "forbidden");
    }
    let root: Value =
        json(&app.with_token("GET", "/me", &app.login_ok("root@example.com", PW), None));
    assert_eq!(root["role"], "admin", "nothing above changed the admin");
}

#[test]
fn an_admin_manages_accounts_and_a_disabled_account_is_locked_out_at_once() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    app.active_account("cy@example.com", PW);
    let login = json(&app.login("cy@example.com", PW));
    let (cy_access, cy_refresh) =
        (login["access_token"].as_str().unwrap(), login["refresh_token"].clone());
    let cy = id_of(&app, "cy@example.com");
    let user = json(&call(&app, "GET", &format!("/admin/users/{cy}"), &root, None));
    assert_eq!(
        (
            user["email"].as_str(),
            user["status"].as_str(),
            user["role"].as_str(),
            user["sessions"].as_i64()
        ),
        (Some("cy@example.com"), Some("active"), Some("user"), Some(1))
    );
    assert_error(&call(&app, "GET", "/admin/users/987654", &root, None), 404, "not_found");
    assert_error(
        &call(&app, "PATCH", &format!("/admin/users/{cy}"), &root, Some(json!({"role": "root"}))),
        400,
        "invalid_request",
    );
    assert_error(
        &call(&app, "PATCH", &format!("/admin/users/{cy}"), &root, Some(json!({"id": 1}))),
        400,
        "unknown_field",
    );

    assert_eq!(call(&app, "POST", &format!("/admin/users/{cy}/disable"), &root, None).status, 204);
    assert_error(&app.with_token("GET", "/me", cy_access, None), 401, "invalid_token");
    let refreshed =
        app.post_json("/token/refresh", &json!({ "refresh_token": cy_refresh }).to_string());
    assert_error(&refreshed, 401, "invalid_token");
    assert_error(&app.login("cy@example.com", PW), 403, "account_disabled");
    assert_error(&app.login("cy@example.com", "wrong password"), 401, "invalid_credentials");
    let listed = json(&call(&app, "GET", "/admin/users?status=disabled", &root, None));
    assert_eq!(listed["users"][0]["email"], "cy@example.com");
    assert_eq!(call(&app, "POST", &format!("/admin/users/{cy}/enable"), &root, None).status, 204);
    let cy_access = app.login_ok("cy@example.com", PW);

    assert_eq!(
        call(&app, "DELETE", &format!("/admin/users/{cy}/sessions"), &root, None).status,
        204
    );
    assert_error(&app.with_token("GET", "/me", &cy_access, None), 401, "invalid_token");
    assert_eq!(call(&app, "DELETE", &format!("/admin/users/{cy}"), &root, None).status, 204);
    assert_error(&call(&app, "GET", &format!("/admin/users/{cy}"), &root, None), 404, "not_found");
    eventually("the notice", || {
        app.mail_texts_to("cy@example.com").iter().any(|t| t.contains("An administrator deleted"))
    });
    assert_eq!(app.register("cy@example.com", PW).status, 201, "the email is free");

    let me = id_of(&app, "root@example.com");
    for (method, path, body) in [
        ("POST", format!("/admin/users/{me}/disable"), None),
        ("DELETE", format!("/admin/users/{me}"), None),
        ("PATCH", format!("/admin/users/{me}"), Some(json!({"role": "user"}))),
    ] {
        assert_error(&call(&app, method, &path, &root, body), 409, "last_admin");
    }
    let disabled: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'account_disabled' AND account_id = $1", &[&me])
        .unwrap()
        .get(0);
    assert_eq!(disabled, 0, "a refused change leaves no event");
}

#[test]
fn a_demoted_admin_loses_admin_access_at_once() {
    let app = TestApp::spawn();
    let first = admin(&app, "first@example.com");
    let second = admin(&app, "second@example.com");
    assert_eq!(call(&app, "GET", "/admin/users", &second, None).status, 200);
    let id = id_of(&app, "second@example.com");
    let demoted =
        call(&app, "PATCH", &format!("/admin/users/{id}"), &first, Some(json!({"role": "user"})));
    assert_eq!(json(&demoted)["role"], "user");
    assert_error(&call(&app, "GET", "/admin/users", &second, None), 403, "forbidden");
    assert_eq!(app.with_token("GET", "/me", &second, None).status, 200, "still a user");
}

#[test]
fn the_account_list_filters_and_pages_with_a_keyset_cursor() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    for name in ["amy", "ari", "bea"] {
        app.active_account(&format!("{name}@example.com"), PW);
    }
    app.register_ok("abe@example.com", PW);
    let page = |query: &str| json(&call(&app, "GET", &format!("/admin/users{query}"), &root, None));
    let first = page("?limit=2");
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap().to_owned();
    let second = page(&format!("?limit=2&after={next}"));
    let third = page(&format!("?limit=2&after={}", second["next"].as_str().unwrap()));
    assert_eq!(third["users"].as_array().unwrap().len(), 1);
    assert_eq!(third["next"], Value::Null);
    let emails = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        emails(&page("?email_prefix=A")),
        ["amy@example.com", "ari@example.com", "abe@example.com"]
    );
    assert_eq!(emails(&page("?email_prefix=a&status=pending")), ["abe@example.com"]);
    assert_eq!(emails(&page("?email_prefix=ari%40")), ["ari@example.com"]);
    for bad in
        ["?limit=0", "?limit=101", "?limit=x", "?after=-1", "?status=gone", "?email_prefix=%zz"]
    {
        assert_error(
            &call(&app, "GET", &format!("/admin/users{bad}"), &root, None),
            400,
            "invalid_request",
        );
    }
}

#[test]
fn no_account_reaches_another_through_any_endpoint() {
    let app = TestApp::spawn();
    app.active_account("eve@example.com", PW);
    app.active_account("sam@example.com", PW);
    let eve = app.login_ok("eve@example.com", PW);
    let sam = app.login_ok("sam@example.com", PW);
    let sam_id = id_of(&app, "sam@example.com");
    let sam_session: i64 = app
        .sql()
        .query_one("SELECT id FROM sessions WHERE account_id = $1", &[&sam_id])
        .unwrap()
        .get(0);
    assert_error(
        &call(&app, "DELETE", &format!("/me/sessions/{sam_session}"), &eve, None),
        404,
        "not_found",
    );
    for (method, path, body) in admin_endpoints(sam_id) {
        assert_error(&call(&app, method, &path, &eve, body), 403, "forbidden");
    }
    let patch = call(&app, "PATCH", "/me", &eve, Some(json!({"display_name": "x", "id": sam_id})));
    assert_error(&patch, 400, "unknown_field");
    let change = json!({"new_email": "eve2@example.com", "password": PW, "account_id": sam_id});
    assert_eq!(call(&app, "POST", "/me/email", &eve, Some(change)).status, 202);
    let pending: i64 =
        app.sql().query_one("SELECT account_id FROM email_changes", &[]).unwrap().get(0);
    assert_eq!(pending, id_of(&app, "eve@example.com"), "ids in bodies are ignored");
    let events = json(&call(&app, "GET", "/me/events", &eve, None));
    let foreign = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] != json!(id_of(&app, "eve@example.com").to_string()))
        .count();
    assert_eq!(foreign, 0, "{events}");
    assert_eq!(app.with_token("GET", "/me", &sam, None).status, 200, "sam untouched");
}

#[test]
fn the_last_admin_cannot_delete_itself_and_a_pending_claim_cannot_hold_a_role() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    let body = json!({ "password": PW });
    assert_error(&call(&app, "DELETE", "/me", &root, Some(body.clone())), 409, "last_admin");
    app.register_ok("pen@example.com", PW);
    let pen = id_of(&app, "pen@example.com");
    let promote =
        call(&app, "PATCH", &format!("/admin/users/{pen}"), &root, Some(json!({"role": "admin"})));
    assert_error(&promote, 409, "account_pending");
    admin(&app, "two@example.com");
    assert_eq!(call(&app, "DELETE", "/me", &root, Some(body)).status, 204, "another admin remains");
}

#[test]
fn an_admin_disabled_while_its_request_waited_cannot_act() {
    // Both requests pass their first role check, then wait for the admin lock the test holds;
    // the disabling commits first, and the disabled admin's own request must then be refused.
    let app = std::sync::Arc::new(TestApp::spawn());
    let first = admin(&app, "first@example.com");
    let second = admin(&app, "second@example.com");
    let second_id = id_of(&app, "second@example.com");
    let mut holder = app.sql();
    holder.execute("SELECT pg_advisory_lock(7090184678759755118)", &[]).unwrap();
    let (a, path) = (std::sync::Arc::clone(&app), format!("/admin/users/{second_id}/disable"));
    let disabling = std::thread::spawn(move || call(&a, "POST", &path, &first, None).status);
    eventually("the disabling waits", || app.waiting_for_locks() == 1);
    let (a, path) = (std::sync::Arc::clone(&app), format!("/admin/users/{second_id}/sessions"));
    let own = std::thread::spawn(move || call(&a, "DELETE", &path, &second, None));
    eventually("the second request waits too", || app.waiting_for_locks() == 2);
    holder.execute("SELECT pg_advisory_unlock(7090184678759755118)", &[]).unwrap();
    assert_eq!(disabling.join().unwrap(), 204);
    let refused = own.join().unwrap();
    assert!(matches!(refused.status, 401 | 403), "{}", body_text(&refused));
    let events: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'sessions_revoked'", &[])
        .unwrap()
        .get(0);
    assert_eq!(events, 0, "the refused change left no event");
}

#[test]
fn disabling_cancels_a_pending_reset_and_a_replaced_claim_starts_with_a_clean_slate() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    app.active_account("dee@example.com", PW);
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"dee@example.com"}"#).status, 202);
    let code = first_digits(&app.nth_mail_to("dee@example.com", 2));
    let dee = id_of(&app, "dee@example.com");
    assert_eq!(call(&app, "POST", &format!("/admin/users/{dee}/disable"), &root, None).status, 204);
    assert_eq!(call(&app, "POST", &format!("/admin/users/{dee}/enable"), &root, None).status, 204);
    let body = json!({"email": "dee@example.com", "code": code, "new_password": "taken over"});
    assert_error(&app.post_json("/password/reset", &body.to_string()), 401, "invalid_code");

    app.register_ok("old@example.com", PW);
    let mut db = app.sql();
    db.execute(
        "UPDATE accounts SET role = 'admin', display_name = 'Old' WHERE email = 'old@example.com'",
        &[],
    )
    .unwrap();
    app.expire_in("old@example.com", -1.0);
    let code = app.register_ok("old@example.com", "the new owner");
    assert_eq!(app.activate("old@example.com", "the new owner", &code).status, 200);
    let token = app.login_ok("old@example.com", "the new owner");
    let me = json(&app.with_token("GET", "/me", &token, None));
    assert_eq!((me["role"].as_str(), me["display_name"].as_str()), (Some("user"), None));
    let events = json(&app.with_token("GET", "/me/events", &token, None));
    let registered =
        events["events"].as_array().unwrap().iter().filter(|e| e["action"] == "registered").count();
    assert_eq!(registered, 1, "the earlier claim's trail is gone: {events}");
}
