//! The audit trail: every security event recorded with the change, with the request's IP and id,
//! never a secret; events go with their account and expire after AUDIT_RETENTION_DAYS.

use crate::admin::admin;
use crate::support::helpers::*;
use crate::totp::{code_at, mfa, step_now};
use serde_json::{Value, json};

const PW: &str = "correct horse";

fn post(app: &TestApp, path: &str, token: &str, body: Value) -> RawResponse {
    app.with_token("POST", path, token, Some(&body.to_string()))
}

fn actions(events: &Value) -> Vec<String> {
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().into())
        .collect()
}

/// The whole audit table as text.
fn dump(app: &TestApp) -> String {
    app.sql()
        .query_one(
            "SELECT coalesce(string_agg(row_to_json(e)::text, E'\\n'), '') FROM audit_events e",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn every_flow_is_recorded_with_its_request_and_the_trail_holds_no_secret() {
    let app = TestApp::with().env("REFRESH_REUSE_GRACE_SECONDS", "0").start();
    let root = admin(&app, "root@example.com");
    let mut secrets: Vec<String> = vec![PW.into(), root.clone()];
    let mut short_codes = Vec::new();
    let code = app.register_ok("ann@example.com", PW);
    short_codes.push(code.clone());
    assert_eq!(app.activate("ann@example.com", PW, &code).status, 200);
    assert_eq!(app.login("ann@example.com", "wrong password").status, 401);
    let login = json(&app.login("ann@example.com", PW));
    let (access, refresh) = (
        login["access_token"].as_str().unwrap().to_owned(),
        login["refresh_token"].as_str().unwrap().to_owned(),
    );
    secrets.extend([access.clone(), refresh.clone()]);
    let rotated =
        json(&app.post_json("/token/refresh", &json!({ "refresh_token": refresh }).to_string()));
    secrets.push(rotated["refresh_token"].as_str().unwrap().into());
    // No grace: presenting the spent token again at once is a replay.
    assert_eq!(
        app.post_json("/token/refresh", &json!({ "refresh_token": refresh }).to_string()).status,
        401
    );

    let access = app.login_ok("ann@example.com", PW);
    secrets.push(access.clone());
    let change = json!({"current_password": PW, "new_password": "second password"});
    assert_eq!(post(&app, "/me/password", &access, change).status, 204);
    secrets.push("second password".into());
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"ann@example.com"}"#).status, 202);
    eventually("the reset code", || {
        app.mail_texts_to("ann@example.com").iter().any(|t| t.contains("reset code"))
    });
    let texts = app.mail_texts_to("ann@example.com");
    let reset = first_digits(texts.iter().find(|t| t.contains("reset code")).unwrap());
    let body = json!({"email": "ann@example.com", "code": reset, "new_password": "third password"});
    assert_eq!(app.post_json("/password/reset", &body.to_string()).status, 204);
    secrets.extend([reset, "third password".into()]);

    let access = app.login_ok("ann@example.com", "third password");
    let body = json!({"new_email": "ann2@example.com", "password": "third password"});
    assert_eq!(post(&app, "/me/email", &access, body).status, 202);
    let email_code = first_digits(&app.nth_mail_to("ann2@example.com", 1));
    assert_eq!(post(&app, "/me/email/confirm", &access, json!({ "code": email_code })).status, 200);
    secrets.push(email_code);

    let enrol = json(&post(&app, "/me/totp", &access, json!({"password": "third password"})));
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    let totp = code_at(&secret, step_now());
    let codes = json(&post(&app, "/me/totp/confirm", &access, json!({ "code": totp })));
    let recovery: Vec<String> = serde_json::from_value(codes["recovery_codes"].clone()).unwrap();
    let mfa_token = password_step_with(&app, "ann2@example.com", "third password");
    assert_eq!(mfa(&app, &mfa_token, "000000").status, 401);
    assert_eq!(mfa(&app, &mfa_token, &recovery[0]).status, 200);
    let off = json!({"password": "third password", "code": recovery[1]}).to_string();
    assert_eq!(app.with_token("DELETE", "/me/totp", &access, Some(&off)).status, 204);
    secrets.extend([secret, mfa_token]);
    secrets.extend(recovery.iter().map(|c| c.replace('-', "")));
    short_codes.push(totp);

    assert_eq!(app.with_token("DELETE", "/me/sessions", &access, None).status, 204);
    let ann = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'ann2@example.com'", &[])
        .unwrap()
        .get::<_, i64>(0);
    for (method, path) in [
        ("POST", format!("/admin/users/{ann}/disable")),
        ("POST", format!("/admin/users/{ann}/enable")),
    ] {
        assert_eq!(app.with_token(method, &path, &root, None).status, 204);
    }
    let access = app.login_ok("ann2@example.com", "third password");
    assert_eq!(app.with_token("POST", "/logout", &access, None).status, 204);

    let access = app.login_ok("ann2@example.com", "third password");
    let mine = json(&app.with_token("GET", "/me/events?limit=100", &access, None));
    let seen = actions(&mine);
    for action in [
        "registered",
        "activated",
        "login_failed",
        "login_succeeded",
        "refresh_token_reused",
        "password_changed",
        "password_reset_requested",
        "password_reset",
        "email_change_requested",
        "email_changed",
        "totp_enabled",
        "recovery_code_used",
        "totp_disabled",
        "sessions_revoked",
        "account_disabled",
        "account_enabled",
        "logout",
    ] {
        assert!(seen.contains(&action.to_string()), "{action} missing from {seen:?}");
    }
    let login_event = mine["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "login_succeeded")
        .unwrap();
    assert_eq!(login_event["client_ip"], "127.0.0.1");
    assert!(login_event["request_id"].as_str().is_some_and(|id| id.len() == 16), "{login_event}");
    let disabled = mine["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "account_disabled")
        .unwrap();
    let root_id = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'root@example.com'", &[])
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(disabled["actor"], json!(root_id.to_string()));

    let trail = dump(&app);
    for secret in &secrets {
        assert!(!trail.contains(secret.as_str()), "{secret:?} is in the audit trail");
    }
    for code in &short_codes {
        assert!(!trail.contains(&format!("\"{code}\"")), "code {code} is in the audit trail");
    }
}

/// `POST /login` for an account with TOTP on and another password: the mfa_token.
fn password_step_with(app: &TestApp, email: &str, password: &str) -> String {
    let answer = json(&app.login(email, password));
    answer["mfa_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

#[test]
fn events_go_with_their_account_and_expire_after_the_retention() {
    let app = TestApp::with()
        .env("REAPER_INTERVAL_SECONDS", "1")
        .env("AUDIT_RETENTION_DAYS", "1")
        .start();
    app.active_account("del@example.com", PW);
    app.active_account("old@example.com", PW);
    let token = app.login_ok("del@example.com", PW);
    let id: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'del@example.com'", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        app.with_token("DELETE", "/me", &token, Some(&json!({"password": PW}).to_string())).status,
        204
    );
    let left: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE account_id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let deleted: i64 = app
        .sql()
        .query_one(
            "SELECT count(*) FROM audit_events
              WHERE action = 'account_deleted' AND account_id IS NULL AND (details->>'account_id')::bigint = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        deleted, 1,
        "one event says that account {id} was deleted, and nothing more about it"
    );
    let ip: Option<String> = app
        .sql()
        .query_one("SELECT client_ip FROM audit_events WHERE action = 'account_deleted'", &[])
        .unwrap()
        .get(0);
    assert_eq!(ip, None, "not even where the owner deleted it from");
    app.sql()
        .execute(
            "UPDATE audit_events SET at = now() - interval '2 days' WHERE action = 'registered'",
            &[],
        )
        .unwrap();
    eventually("the reaper deletes events past the retention", || {
        app.sql()
            .query_one("SELECT count(*) FROM audit_events WHERE action = 'registered'", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 0
    });
    let recent: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'activated'", &[])
        .unwrap()
        .get(0);
    assert_eq!(recent, 1, "newer events stay");
}

#[test]
fn a_change_that_rolls_back_leaves_no_event() {
    // The change of email is one statement with its event; when the UNIQUE constraint refuses the
    // new address, the statement and its event roll back together.
    let app = TestApp::spawn();
    app.active_account("ron@example.com", PW);
    let token = app.login_ok("ron@example.com", PW);
    let body = json!({"new_email": "taken@example.com", "password": PW});
    assert_eq!(post(&app, "/me/email", &token, body).status, 202);
    let code = first_digits(&app.nth_mail_to("taken@example.com", 1));
    app.register_ok("taken@example.com", PW);
    assert_error(
        &post(&app, "/me/email/confirm", &token, json!({ "code": code })),
        409,
        "email_taken",
    );
    let changed: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'email_changed'", &[])
        .unwrap()
        .get(0);
    assert_eq!(changed, 0);
}

#[test]
fn admins_filter_and_page_the_whole_trail() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    for name in ["a", "b", "c"] {
        app.active_account(&format!("{name}@example.com"), PW);
    }
    let b: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'b@example.com'", &[])
        .unwrap()
        .get(0);
    let page =
        |query: &str| json(&app.with_token("GET", &format!("/admin/events{query}"), &root, None));
    let only_b = page(&format!("?subject={b}"));
    assert_eq!(actions(&only_b), ["activated", "registered"], "newest first");
    let registered = page("?action=registered&limit=2");
    assert_eq!(actions(&registered), ["registered", "registered"]);
    let rest =
        page(&format!("?action=registered&limit=2&after={}", registered["next"].as_str().unwrap()));
    assert_eq!(actions(&rest), ["registered", "registered"], "four registrations in all");
    assert_eq!(rest["next"], Value::Null);
    for bad in ["?limit=0", "?after=x", "?subject=-3"] {
        let answer = app.with_token("GET", &format!("/admin/events{bad}"), &root, None);
        assert_error(&answer, 400, "invalid_request");
    }
}
