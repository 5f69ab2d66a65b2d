use crate::support::helpers::*;
use std::time::Duration;

const PW: &str = "correct horse";

#[test]
fn a_code_is_accepted_at_t_plus_59_seconds() {
    let app = TestApp::spawn();
    let code = app.register_ok("ida@example.com", PW);
    app.expire_in("ida@example.com", 1.0); // registered 59 s ago by the database clock
    assert_eq!(app.activate("ida@example.com", PW, &code).status, 200);
}

#[test]
fn a_code_is_rejected_at_t_plus_61_seconds_and_the_claim_deleted() {
    let app = TestApp::spawn();
    let code = app.register_ok("jon@example.com", PW);
    app.expire_in("jon@example.com", -1.0);
    assert_error(&app.activate("jon@example.com", PW, &code), 410, "code_expired");
    assert_eq!(app.row("jon@example.com"), None);
}

#[test]
fn a_wrong_password_on_an_expired_claim_is_401_not_410() {
    let app = TestApp::spawn();
    let code = app.register_ok("kim@example.com", PW);
    app.expire_in("kim@example.com", -1.0);
    assert_error(
        &app.activate("kim@example.com", "wrong horse", &code),
        401,
        "invalid_credentials",
    );
}

#[test]
fn a_real_two_second_window_expires_end_to_end() {
    let app =
        TestApp::with().env("CODE_TTL_SECONDS", "2").env("REAPER_INTERVAL_SECONDS", "3600").start();
    let response = app.register("lee@example.com", PW);
    assert_eq!(json(&response)["expires_in"], 2);
    let code = app.last_code_for("lee@example.com");
    std::thread::sleep(Duration::from_millis(2_200));
    assert_error(&app.activate("lee@example.com", PW, &code), 410, "code_expired");
}

#[test]
fn registering_over_an_expired_claim_replaces_it_atomically() {
    let app = TestApp::spawn();
    let old_code = app.register_ok("max@example.com", PW);
    app.activate("max@example.com", PW, &other_code(&old_code));
    app.expire_in("max@example.com", -1.0);
    let new_code = app.register_ok("max@example.com", "new password");
    assert_eq!(app.row("max@example.com"), Some(("pending".into(), 0)), "one row, attempts reset");
    assert_error(&app.activate("max@example.com", PW, &new_code), 401, "invalid_credentials");
    assert_eq!(app.activate("max@example.com", "new password", &new_code).status, 200);
}

#[test]
fn the_reaper_deletes_expired_claims_with_their_hashes() {
    let app =
        TestApp::with().env("CODE_TTL_SECONDS", "1").env("REAPER_INTERVAL_SECONDS", "1").start();
    app.register_ok("ned@example.com", PW);
    app.expire_in("ned@example.com", -1.0);
    eventually("the reaper to delete the expired claim", || app.row("ned@example.com").is_none());
    let leftovers: i64 = app.sql()
        .query_one("SELECT count(*) FROM accounts WHERE password_hash IS NOT NULL OR code_hash IS NOT NULL", &[])
        .unwrap().get(0);
    assert_eq!(leftovers, 0);
    assert!(app.process.stdout().iter().any(|l| l.contains("\"reaped\"")));
}
