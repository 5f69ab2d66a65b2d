//! Change of email: the new address proves itself with a mailed code, the old one is told and
//! freed, and the database's UNIQUE constraint decides a race with a registration.

use crate::support::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;

const PW: &str = "correct horse";

fn request_change(app: &TestApp, token: &str, new_email: &str, password: &str) -> RawResponse {
    let body = json!({"new_email": new_email, "password": password}).to_string();
    app.with_token("POST", "/me/email", token, Some(&body))
}

fn confirm(app: &TestApp, token: &str, code: &str) -> RawResponse {
    let body = json!({ "code": code }).to_string();
    app.with_token("POST", "/me/email/confirm", token, Some(&body))
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// An active account with a live session: (access token, refresh token).
fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    app.active_account(email, PW);
    let body = json(&app.login(email, PW));
    (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
}

#[test]
fn a_confirmed_change_moves_the_account_and_frees_the_old_address() {
    let app = TestApp::spawn();
    let (access, refresh) = signed_in(&app, "old@example.com");
    let answer = request_change(&app, &access, " New@Example.com", PW);
    assert_eq!(answer.status, 202, "{}", body_text(&answer));
    assert_eq!(
        json(&answer),
        json!({"email": "old@example.com", "pending_email": "new@example.com", "expires_in": 900})
    );
    let code = first_digits(&app.nth_mail_to("new@example.com", 1));
    assert_eq!(code.len(), 8);
    assert!(app.nth_mail_to("old@example.com", 2).contains("new@example.com"), "told at once");

    let profile = confirm(&app, &access, &code);
    assert_eq!(profile.status, 200, "{}", body_text(&profile));
    assert_eq!(json(&profile)["email"], "new@example.com");
    let notice = app.nth_mail_to("old@example.com", 3);
    assert!(notice.contains("changed to new@example.com"), "{notice}");

    let me = app.with_token("GET", "/me", &access, None);
    assert_eq!(json(&me)["email"], "new@example.com", "the session lives on");
    let pair = app.post_json("/token/refresh", &json!({ "refresh_token": refresh }).to_string());
    let next_access = json(&pair)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&next_access)["email"], "new@example.com");
    assert_error(&app.login("old@example.com", PW), 401, "invalid_credentials");
    app.login_ok("new@example.com", PW);
    assert_eq!(app.register("old@example.com", PW).status, 201, "the old address is free");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");
}

#[test]
fn a_change_needs_the_password_a_new_free_address_and_a_token() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    let (access, _) = signed_in(&app, "pat@example.com");
    app.active_account("taken@example.com", PW);
    app.register_ok("claimed@example.com", PW);
    assert_error(
        &request_change(&app, &access, "x@example.com", "wrong password"),
        403,
        "wrong_password",
    );
    assert_error(&request_change(&app, &access, "PAT@example.com", PW), 400, "same_email");
    assert_error(&request_change(&app, &access, "no-at-sign", PW), 400, "invalid_email");
    assert_error(&request_change(&app, &access, "taken@example.com", PW), 409, "email_taken");
    assert_error(&request_change(&app, &access, "claimed@example.com", PW), 409, "email_taken");
    assert_error(&request_change(&app, "not-a-token", "x@example.com", PW), 401, "invalid_token");
    let missing =
        app.with_token("POST", "/me/email", &access, Some(r#"{"new_email":"x@example.com"}"#));
    assert_error(&missing, 400, "invalid_request");
    // The wrong password above counted as a failed login: the second one reaches the limit.
    assert_error(
        &request_change(&app, &access, "x@example.com", "wrong again"),
        403,
        "wrong_password",
    );
    assert_error(&request_change(&app, &access, "x@example.com", PW), 429, "rate_limited");
    assert_eq!(app.mail_texts_to("x@example.com").len(), 0);
}

#[test]
fn wrong_expired_and_used_up_codes_are_told_apart() {
    let app = TestApp::with().env("MAX_RESET_ATTEMPTS", "2").start();
    let (access, _) = signed_in(&app, "quy@example.com");
    assert_error(&confirm(&app, &access, "12345678"), 409, "no_pending_change");
    assert_error(&confirm(&app, &access, "1234"), 400, "invalid_code_format");
    assert_error(&confirm(&app, "bad-token", "12345678"), 401, "invalid_token");

    assert_eq!(request_change(&app, &access, "quy2@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("quy2@example.com", 1));
    let wrong = confirm(&app, &access, &other_code(&code));
    assert_error(&wrong, 422, "wrong_code");
    assert_eq!(json(&wrong)["attempts_remaining"], 1);
    assert_error(&confirm(&app, &access, &other_code(&code)), 410, "attempts_exhausted");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");

    assert_eq!(request_change(&app, &access, "quy3@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("quy3@example.com", 1));
    app.sql().execute("UPDATE email_changes SET expires_at = now()", &[]).unwrap();
    assert_error(&confirm(&app, &access, &code), 410, "code_expired");
    assert_eq!(json(&app.with_token("GET", "/me", &access, None))["email"], "quy@example.com");
}

#[test]
fn an_address_registered_meanwhile_makes_the_confirmation_409_and_cancels_it() {
    let app = TestApp::spawn();
    let (access, _) = signed_in(&app, "ray@example.com");
    assert_eq!(request_change(&app, &access, "wanted@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("wanted@example.com", 1));
    app.register_ok("wanted@example.com", "someone else's password");
    assert_error(&confirm(&app, &access, &code), 409, "email_taken");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");
    // An expired claim does not hold an address: it is released as a registration would.
    assert_eq!(request_change(&app, &access, "lapsed@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("lapsed@example.com", 1));
    app.register_ok("lapsed@example.com", "someone else's password");
    app.expire_in("lapsed@example.com", -1.0);
    assert_eq!(confirm(&app, &access, &code).status, 200);
}

/// Starts a change of `email`'s account (signed in with `access`) to `target`; returns the code.
fn pending_change(app: &TestApp, access: &str, target: &str) -> String {
    assert_eq!(request_change(app, access, target, PW).status, 202);
    first_digits(&app.nth_mail_to(target, 1))
}

#[test]
fn a_registration_that_passed_its_checks_loses_to_a_confirmation_that_committed_first() {
    // The registration is held just before its INSERT (the test holds the row its code-length
    // check upserts), so its pre-check has passed and only the database can refuse it.
    let app = Arc::new(TestApp::spawn());
    let (access, _) = signed_in(&app, "sam@example.com");
    let code = pending_change(&app, &access, "race@example.com");
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute(
        "INSERT INTO rate_limits VALUES ('wrong_code', encode(sha256('race@example.com'), 'hex'),
                86400, now(), 0, 0, true)",
        &[],
    )
    .unwrap();
    let shared = Arc::clone(&app);
    let registration =
        std::thread::spawn(move || shared.register("race@example.com", "another password"));
    eventually("the registration waits", || app.waiting_for_locks() == 1);
    assert_eq!(confirm(&app, &access, &code).status, 200);
    hold.rollback().unwrap();
    assert_error(&registration.join().unwrap(), 409, "email_taken");
    let rows: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM accounts WHERE email = 'race@example.com'", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn a_confirmation_that_comes_second_to_a_registration_gets_409_from_the_unique_constraint() {
    // The confirmation is held at its first lock (the account row), the registration commits, then
    // the confirmation's UPDATE meets the UNIQUE constraint.
    let app = Arc::new(TestApp::spawn());
    let (access, _) = signed_in(&app, "tom@example.com");
    let code = pending_change(&app, &access, "race@example.com");
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = 'tom@example.com' FOR UPDATE", &[]).unwrap();
    let (shared, token) = (Arc::clone(&app), access.clone());
    let confirmation = std::thread::spawn(move || confirm(&shared, &token, &code));
    eventually("the confirmation waits", || app.waiting_for_locks() == 1);
    assert_eq!(app.register("race@example.com", "another password").status, 201);
    hold.rollback().unwrap();
    assert_error(&confirmation.join().unwrap(), 409, "email_taken");
    assert_eq!(json(&app.with_token("GET", "/me", &access, None))["email"], "tom@example.com");
}

#[test]
fn parallel_wrong_codes_never_exceed_the_attempt_limit() {
    let app = Arc::new(
        TestApp::with().env("MAX_RESET_ATTEMPTS", "2").env("RATE_LIMIT_IP_PER_MINUTE", "0").start(),
    );
    let (access, _) = signed_in(&app, "uma@example.com");
    let code = pending_change(&app, &access, "uma2@example.com");
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = 'uma@example.com' FOR UPDATE", &[]).unwrap();
    let guesses: Vec<_> = (0..6)
        .map(|_| {
            let (app, token, wrong) = (Arc::clone(&app), access.clone(), other_code(&code));
            std::thread::spawn(move || confirm(&app, &token, &wrong).status)
        })
        .collect();
    eventually("all 6 guesses wait", || app.waiting_for_locks() == 6);
    hold.commit().unwrap();
    let mut statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [409, 409, 409, 409, 410, 422],
        "one wrong code, the last allowed, the rest find nothing"
    );
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");
}

#[test]
fn a_confirmation_queued_behind_a_password_change_or_a_reset_never_fails_with_5xx_or_a_false_401() {
    let app = Arc::new(TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start());
    for round in 0..2 {
        let email = format!("vic{round}@example.com");
        let (access, _) = signed_in(&app, &email);
        let code = pending_change(&app, &access, &format!("vic{round}-new@example.com"));
        assert_eq!(
            app.post_json("/password/forgot", &json!({ "email": email }).to_string()).status,
            202
        );
        eventually("the reset code", || {
            app.mail_texts_to(&email).iter().any(|t| t.contains("reset code"))
        });
        let texts = app.mail_texts_to(&email);
        let reset_code = first_digits(texts.iter().find(|t| t.contains("reset code")).unwrap());
        let mut holder = app.sql();
        let mut hold = holder.transaction().unwrap();
        hold.execute("SELECT 1 FROM accounts WHERE email = $1 FOR UPDATE", &[&email]).unwrap();
        // The password change or reset queues for the account first, the confirmation behind
        // it: the confirmation then finds the account changed after its statement began (the
        // case where PostgreSQL re-reads the locked account but not the session).
        let (a, token, who) = (Arc::clone(&app), access.clone(), email.clone());
        let other = std::thread::spawn(move || match round {
            0 => {
                let body = json!({"current_password": PW, "new_password": "changed meanwhile"});
                a.with_token("POST", "/me/password", &token, Some(&body.to_string())).status
            }
            _ => {
                let body =
                    json!({"email": who, "code": reset_code, "new_password": "reset meanwhile"});
                a.post_json("/password/reset", &body.to_string()).status
            }
        });
        eventually("the change waits for the account", || app.waiting_for_locks() == 1);
        let (a, token) = (Arc::clone(&app), access.clone());
        let confirmation = std::thread::spawn(move || confirm(&a, &token, &code).status);
        eventually("both wait for the account", || app.waiting_for_locks() == 2);
        hold.commit().unwrap();
        let statuses = (confirmation.join().unwrap(), other.join().unwrap());
        let allowed = match round {
            0 => [(409, 204)], // the change kept this session and cancelled the pending change
            _ => [(401, 204)], // the reset signed every session out
        };
        assert!(allowed.contains(&statuses), "round {round}: {statuses:?}");
    }
}

#[test]
fn a_reset_or_a_password_change_cancels_a_pending_change() {
    let app = TestApp::spawn();
    let (access, _) = signed_in(&app, "tia@example.com");
    assert_eq!(request_change(&app, &access, "tia2@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("tia2@example.com", 1));
    let change = json!({"current_password": PW, "new_password": "a new password"}).to_string();
    assert_eq!(app.with_token("POST", "/me/password", &access, Some(&change)).status, 204);
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");

    assert_eq!(request_change(&app, &access, "tia3@example.com", "a new password").status, 202);
    let code = first_digits(&app.nth_mail_to("tia3@example.com", 1));
    let forgot = app.post_json("/password/forgot", r#"{"email":"tia@example.com"}"#);
    assert_eq!(forgot.status, 202);
    eventually("the reset code", || {
        app.mail_texts_to("tia@example.com").iter().any(|t| t.contains("password reset code"))
    });
    let texts = app.mail_texts_to("tia@example.com");
    let reset_code =
        first_digits(texts.iter().find(|t| t.contains("password reset code")).unwrap());
    let body =
        json!({"email": "tia@example.com", "code": reset_code, "new_password": "reset password"});
    assert_eq!(app.post_json("/password/reset", &body.to_string()).status, 204);
    let fresh = app.login_ok("tia@example.com", "reset password");
    assert_error(&confirm(&app, &fresh, &code), 409, "no_pending_change");
}

#[test]
fn a_change_of_email_kills_a_reset_code_mailed_to_the_old_address() {
    let app = TestApp::spawn();
    let (access, _) = signed_in(&app, "wes@example.com");
    let reset = |email: &str, code: &str| {
        let body = json!({"email": email, "code": code, "new_password": "a new password"});
        app.post_json("/password/reset", &body.to_string())
    };
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"wes@example.com"}"#).status, 202);
    let reset_code = first_digits(&app.nth_mail_to("wes@example.com", 2));
    let code = pending_change(&app, &access, "wes2@example.com");
    assert_eq!(confirm(&app, &access, &code).status, 200);
    assert_error(&reset("wes2@example.com", &reset_code), 401, "invalid_code");
    assert_error(&reset("wes@example.com", &reset_code), 401, "invalid_code");

    // A reset row that outlived a change of address (as a worker racing the change could leave)
    // still does not open the account: the code is bound to the address it was mailed to.
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"wes2@example.com"}"#).status, 202);
    eventually("the second reset code", || {
        app.mail_texts_to("wes2@example.com").iter().any(|t| t.contains("reset code"))
    });
    let texts = app.mail_texts_to("wes2@example.com");
    let reset_code = first_digits(texts.iter().find(|t| t.contains("reset code")).unwrap());
    app.sql()
        .execute(
            "UPDATE accounts SET email = 'wes3@example.com' WHERE email = 'wes2@example.com'",
            &[],
        )
        .unwrap();
    assert_error(&reset("wes3@example.com", &reset_code), 401, "invalid_code");
}

#[test]
fn a_change_of_email_racing_the_deletion_of_the_account_is_401_never_500() {
    // The test holds the account row; the deletion queues first, the change of email second. Were
    // the change to insert without waiting for the deletion, its row would point at a deleted
    // account: a foreign-key error, 500.
    let app = Arc::new(TestApp::spawn());
    let (access, _) = signed_in(&app, "xia@example.com");
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = 'xia@example.com' FOR UPDATE", &[]).unwrap();
    let (a, token) = (Arc::clone(&app), access.clone());
    let deletion = std::thread::spawn(move || {
        let body = json!({ "password": PW }).to_string();
        a.with_token("DELETE", "/me", &token, Some(&body)).status
    });
    eventually("the deletion waits", || app.waiting_for_locks() == 1);
    let (a, token) = (Arc::clone(&app), access.clone());
    let change = std::thread::spawn(move || request_change(&a, &token, "xia2@example.com", PW));
    eventually("the change waits too", || app.waiting_for_locks() == 2);
    hold.rollback().unwrap();
    assert_eq!(deletion.join().unwrap(), 204);
    assert_error(&change.join().unwrap(), 401, "invalid_token");
}
