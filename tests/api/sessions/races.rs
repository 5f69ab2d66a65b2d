//! Races between a login and a change to the account it logs in to (found by an outside attack).

use crate::support::helpers::*;
use std::sync::Arc;
use std::time::Duration;

const PW: &str = "correct horse";

/// Runs `first` at once and `second` after `delay` on another thread; returns both results.
fn race<A: Send + 'static, B: Send + 'static>(
    first: impl FnOnce() -> A + Send + 'static,
    delay: Duration,
    second: impl FnOnce() -> B + Send + 'static,
) -> (A, B) {
    let later = std::thread::spawn(move || {
        std::thread::sleep(delay);
        second()
    });
    let a = first();
    (a, later.join().unwrap())
}

/// bcrypt at cost 8 takes ~15 ms here: long enough that a login started a few milliseconds after
/// a change checks the old password before the change commits and writes its session after.
fn racing_app() -> Arc<TestApp> {
    Arc::new(
        TestApp::with()
            .env("BCRYPT_COST", "8")
            .env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "0")
            .env("RATE_LIMIT_IP_PER_MINUTE", "0")
            .start(),
    )
}

#[test]
fn no_session_made_with_an_old_password_survives_a_completed_password_change() {
    let app = racing_app();
    let email = "race@example.com";
    let mut password = "password number 0".to_owned();
    app.active_account(email, &password);
    let (mut raced, mut survivors) = (0, Vec::new());
    for trial in 0..36u64 {
        let token = app.login_ok(email, &password);
        let new_password = format!("password number {}", trial + 1);
        let body = serde_json::json!({"current_password": password, "new_password": new_password})
            .to_string();
        let (a, b, old) = (Arc::clone(&app), Arc::clone(&app), password.clone());
        let (changed, login) = race(
            move || a.with_token("POST", "/me/password", &token, Some(&body)).status,
            Duration::from_millis(trial % 12 * 3),
            move || b.login(email, &old),
        );
        assert_eq!(changed, 204, "trial {trial}");
        assert!([200, 401].contains(&login.status), "{}", body_text(&login));
        if login.status == 200 {
            raced += 1;
            let old_token = json(&login)["access_token"].as_str().unwrap().to_owned();
            let me = app.with_token("GET", "/me", &old_token, None);
            if me.status != 401 {
                survivors.push(trial);
            }
        }
        password = new_password;
    }
    assert!(raced > 0, "no login overlapped a change: the test proves nothing");
    assert!(
        survivors.is_empty(),
        "sessions made with the old password outlived the change in trials {survivors:?}"
    );
}

#[test]
fn a_login_racing_account_deletion_gets_a_clear_answer_never_500() {
    let app = racing_app();
    for trial in 0..12u64 {
        let email = format!("gone{trial}@example.com");
        app.active_account(&email, PW);
        let token = app.login_ok(&email, PW);
        let body = serde_json::json!({"password": PW}).to_string();
        let (a, b, e) = (Arc::clone(&app), Arc::clone(&app), email.clone());
        let (deleted, login) = race(
            move || a.with_token("DELETE", "/me", &token, Some(&body)).status,
            Duration::from_millis(trial * 2),
            move || b.login(&e, PW),
        );
        assert_eq!(deleted, 204, "trial {trial}");
        assert!(
            [200, 401].contains(&login.status),
            "trial {trial}: {} {}",
            login.status,
            body_text(&login)
        );
        if login.status == 200 {
            let token = json(&login)["access_token"].as_str().unwrap().to_owned();
            assert_error(&app.with_token("GET", "/me", &token, None), 401, "invalid_token");
        }
    }
    let sessions: i64 = app.sql().query_one("SELECT count(*) FROM sessions", &[]).unwrap().get(0);
    assert_eq!(sessions, 0, "no session outlives its account");
}

#[test]
fn of_two_password_changes_confirmed_with_one_password_only_one_lands() {
    // Owner and attacker both know the password and hold a session: the change whose check ran
    // before the other committed must not land after it (that would hand the account over).
    let app = racing_app();
    let email = "duel@example.com";
    let mut password = "password number 0".to_owned();
    app.active_account(email, &password);
    for trial in 0..16u64 {
        let (owner, attacker) = (app.login_ok(email, &password), app.login_ok(email, &password));
        let change = |token: String, new: String| {
            let body = serde_json::json!({"current_password": password, "new_password": new});
            let app = Arc::clone(&app);
            move || {
                let body = body.to_string();
                app.with_token("POST", "/me/password", &token, Some(&body)).status
            }
        };
        let (owner_new, attacker_new) =
            (format!("owner choice {trial}"), format!("attacker {trial}"));
        let (a, b) = race(
            change(owner, owner_new.clone()),
            Duration::from_millis(trial % 8 * 2),
            change(attacker, attacker_new.clone()),
        );
        assert_eq!([a, b].iter().filter(|s| **s == 204).count(), 1, "trial {trial}: {a} and {b}");
        password = if a == 204 { owner_new } else { attacker_new };
        app.login_ok(email, &password);
    }
}

#[test]
fn a_refresh_racing_a_logout_or_a_second_refresh_never_fails_with_500() {
    let app = racing_app();
    app.active_account("twin@example.com", PW);
    for trial in 0..20u64 {
        let login = json(&app.login("twin@example.com", PW));
        let access = login["access_token"].as_str().unwrap().to_owned();
        let refresh = serde_json::json!({"refresh_token": login["refresh_token"]}).to_string();
        let (a, b, again) = (Arc::clone(&app), Arc::clone(&app), refresh.clone());
        let (refreshed, other) = race(
            move || a.post_json("/token/refresh", &refresh).status,
            Duration::from_micros(trial * 300),
            move || {
                if trial % 2 == 0 {
                    b.with_token("POST", "/logout", &access, None).status
                } else {
                    b.post_json("/token/refresh", &again).status
                }
            },
        );
        assert!([200, 401].contains(&refreshed), "trial {trial}: {refreshed}");
        assert!([200, 204, 401].contains(&other), "trial {trial}: {other}");
        if trial % 2 == 1 {
            assert_eq!([refreshed, other].iter().filter(|s| **s == 200).count(), 1, "one rotates");
        }
    }
}

/// Sends `n` requests with a wrong password at once while the test holds the account row, which
/// their failure records wait for; returns their statuses once the row is released. With more
/// hashing threads (8) than the limit (6): checked before hashing and counted after it, all 8
/// got their passwords evaluated; reserved first, never more than the limit.
fn wrong_passwords_held_on_the_account(
    app: &Arc<TestApp>,
    email: &'static str,
    n: usize,
    send: fn(&TestApp, &str) -> u16,
) -> Vec<u16> {
    let token = app.login_ok(email, PW);
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = $1 FOR UPDATE", &[&email]).unwrap();
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let (app, token) = (Arc::clone(app), token.clone());
            std::thread::spawn(move || send(&app, &token))
        })
        .collect();
    // As many wrong passwords as the limit allows end up waiting for the row, each checked.
    eventually("the evaluated guesses wait on the account", || app.waiting_for_locks() >= 6);
    hold.commit().unwrap();
    requests.into_iter().map(|r| r.join().unwrap()).collect()
}

#[test]
fn parallel_wrong_passwords_never_get_more_evaluations_than_the_limit() {
    let app = Arc::new(
        TestApp::with()
            .env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "6")
            .env("RATE_LIMIT_IP_PER_MINUTE", "0")
            .env("HASH_THREADS", "8")
            .env("HASH_QUEUE_DEPTH", "64")
            .start(),
    );
    app.active_account("burst@example.com", PW);
    let login: fn(&TestApp, &str) -> u16 =
        |app, _| app.login("burst@example.com", "wrong horse").status;
    let statuses = wrong_passwords_held_on_the_account(&app, "burst@example.com", 16, login);
    assert_eq!(count(&statuses, 401) + count(&statuses, 429), 16, "{statuses:?}");
    assert_eq!(count(&statuses, 401), 6, "wrong passwords evaluated: {statuses:?}");
    assert_error(&app.login("burst@example.com", PW), 429, "rate_limited");

    app.active_account("again@example.com", PW);
    let change: fn(&TestApp, &str) -> u16 = |app, token| {
        let body =
            serde_json::json!({"current_password": "wrong horse", "new_password": "x".repeat(9)});
        app.with_token("POST", "/me/password", token, Some(&body.to_string())).status
    };
    let statuses = wrong_passwords_held_on_the_account(&app, "again@example.com", 16, change);
    assert_eq!(count(&statuses, 403), 6, "wrong passwords evaluated at /me/password: {statuses:?}");
    assert_eq!(count(&statuses, 429), 10, "{statuses:?}");
}

#[test]
fn a_right_password_gives_its_reserved_failure_back() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    app.active_account("ok@example.com", PW);
    for _ in 0..4 {
        app.login_ok("ok@example.com", PW);
    }
    let token = app.login_ok("ok@example.com", PW);
    let body = serde_json::json!({"current_password": PW, "new_password": "battery staple"});
    for new in ["battery staple", PW, "battery staple"] {
        let current = if new == PW { "battery staple" } else { PW };
        let body = serde_json::json!({"current_password": current, "new_password": new});
        let changed = app.with_token("POST", "/me/password", &token, Some(&body.to_string()));
        assert_eq!(changed.status, 204, "{}", body_text(&changed));
    }
    drop(body);
    assert_error(&app.login("ok@example.com", "wrong horse"), 401, "invalid_credentials");
    app.login_ok("ok@example.com", "battery staple");
}

#[test]
fn a_wrong_password_while_the_account_is_being_deleted_is_401_never_500() {
    // The test deletes the account in a transaction of its own and commits it while each request
    // is recording its wrong password: the record must find the account gone, not trip on the
    // foreign key.
    let app = racing_app();
    let calls: [(&str, &str, serde_json::Value); 4] = [
        (
            "POST",
            "/me/password",
            serde_json::json!({"current_password": "wrong horse", "new_password": "battery staple"}),
        ),
        ("DELETE", "/me", serde_json::json!({"password": "wrong horse"})),
        (
            "POST",
            "/me/email",
            serde_json::json!({"new_email": "new@example.com", "password": "wrong horse"}),
        ),
        ("POST", "/me/totp", serde_json::json!({"password": "wrong horse"})),
    ];
    for (method, path, body) in calls {
        app.active_account("del@example.com", PW);
        let token = app.login_ok("del@example.com", PW);
        let mut holder = app.sql();
        let mut deleting = holder.transaction().unwrap();
        deleting.execute("DELETE FROM accounts WHERE email = 'del@example.com'", &[]).unwrap();
        let a = Arc::clone(&app);
        let request =
            std::thread::spawn(move || a.with_token(method, path, &token, Some(&body.to_string())));
        eventually("the wrong password's record waits", || app.waiting_for_locks() == 1);
        deleting.commit().unwrap();
        let answer = request.join().unwrap();
        assert_error(&answer, 401, "invalid_token");
    }
}
