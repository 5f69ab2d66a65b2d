use crate::support::helpers::*;
use std::sync::atomic::Ordering;

const PW: &str = "correct horse";

#[test]
fn the_ip_limit_spans_every_post_endpoint_and_answers_429_with_retry_after() {
    let app = TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "3").start();
    assert_eq!(app.register("ann@example.com", PW).status, 201);
    assert_eq!(app.activate("ann@example.com", PW, "0000").status, 422);
    assert_eq!(app.resend("ann@example.com", PW).status, 202);
    let limited = app.register("bea@example.com", PW);
    assert_error(&limited, 429, "rate_limited");
    let retry_after: u32 = limited.header("retry-after").unwrap().parse().unwrap();
    // The two-bucket estimate lets hits fade out over up to two windows.
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    assert_eq!(app.process.send("GET", "/health", &[], None).status, 200, "GETs are not limited");
}

#[test]
fn x_forwarded_for_counts_only_when_trusted_and_only_its_rightmost_entry() {
    let untrusted = TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "2").start();
    for (i, forwarded) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let response = untrusted.process.send(
            "POST",
            "/register",
            &[("X-Forwarded-For", forwarded)],
            Some(b"{}"),
        );
        assert_eq!(response.status, if i < 2 { 400 } else { 429 }, "the header must be ignored");
    }
    let trusted = TestApp::with()
        .env("RATE_LIMIT_IP_PER_MINUTE", "2")
        .env("TRUST_X_FORWARDED_FOR", "true")
        .start();
    let send = |forwarded: &str| {
        trusted
            .process
            .send("POST", "/register", &[("X-Forwarded-For", forwarded)], Some(b"{}"))
            .status
    };
    assert_eq!(send("10.0.0.1"), 400);
    assert_eq!(send("10.0.0.1"), 400);
    assert_eq!(send("10.0.0.1"), 429);
    assert_eq!(send("10.0.0.2"), 400, "another client has its own budget");
    // A client cannot escape its budget by prepending addresses: only the rightmost one counts.
    assert_eq!(send("203.0.113.7, 10.0.0.1"), 429);
}

#[test]
fn a_limit_of_zero_is_off_and_counts_nothing() {
    let app = TestApp::with()
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .env("RATE_LIMIT_EMAIL_PER_HOUR", "0")
        .env("MAX_WRONG_CODES_PER_EMAIL_PER_DAY", "0")
        .start();
    for _ in 0..70 {
        assert_eq!(app.post_json("/register", "{}").status, 400);
    }
    let code = app.register_ok("cid@example.com", PW);
    app.guess_wrong("cid@example.com", PW, &code, 2);
    let rows: i64 = app.sql().query_one("SELECT count(*) FROM rate_limits", &[]).unwrap().get(0);
    assert_eq!(rows, 0);
}

#[test]
fn mails_per_email_are_limited_and_the_key_is_a_hash() {
    let app = TestApp::with().env("RATE_LIMIT_EMAIL_PER_HOUR", "2").start();
    let _first = app.register_ok("dee@example.com", PW);
    assert_eq!(app.resend("dee@example.com", PW).status, 202);
    let second = app.last_code_for("dee@example.com");
    assert_error(&app.resend("dee@example.com", PW), 429, "rate_limited");
    assert_eq!(app.mails_sent(), 2);
    assert_eq!(
        app.activate("dee@example.com", PW, &second).status,
        200,
        "the refused resend changed nothing"
    );
    let subjects: Vec<String> = app
        .sql()
        .query("SELECT subject FROM rate_limits WHERE scope = 'mail'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: String = app
        .sql()
        .query_one("SELECT encode(sha256('dee@example.com'::bytea), 'hex')", &[])
        .unwrap()
        .get(0);
    assert_eq!(subjects, vec![expected]);
    let plaintext: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM rate_limits WHERE subject LIKE '%@%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(plaintext, 0);
}

#[test]
fn a_resend_mails_a_new_code_kills_the_old_one_and_keeps_the_wrong_attempts() {
    let app = TestApp::spawn();
    let old = app.register_ok("eli@example.com", PW);
    assert_eq!(
        json(&app.activate("eli@example.com", PW, &other_code(&old)))["attempts_remaining"],
        2
    );
    app.expire_in("eli@example.com", 5.0);
    let response = app.resend("eli@example.com", PW);
    assert_eq!(response.status, 202);
    assert_eq!(
        json(&response),
        serde_json::json!({"email": "eli@example.com", "status": "pending", "expires_in": 60})
    );
    let new = app.last_code_for("eli@example.com");
    let seconds_left: f64 = app
        .sql()
        .query_one("SELECT extract(epoch FROM code_expires_at - now())::float8 FROM accounts", &[])
        .unwrap()
        .get(0);
    assert!(seconds_left > 50.0, "the window restarted: {seconds_left}");
    if new != old {
        let stale = app.activate("eli@example.com", PW, &old);
        assert_eq!(
            json(&stale)["attempts_remaining"],
            1,
            "attempts were not reset, old code is dead"
        );
    }
    assert_eq!(app.activate("eli@example.com", PW, &new).status, 200);
}

#[test]
fn resends_are_limited_per_claim() {
    let app = TestApp::with().env("MAX_RESENDS", "2").start();
    app.register_ok("fin@example.com", PW);
    assert_eq!(app.resend("fin@example.com", PW).status, 202);
    assert_eq!(app.resend("fin@example.com", PW).status, 202);
    let refused = app.resend("fin@example.com", PW);
    assert_error(&refused, 429, "too_many_resends");
    let retry_after: u32 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
}

#[test]
fn resend_answers_401_409_and_410_like_the_state_machine_says() {
    let app = TestApp::spawn();
    let code = app.register_ok("gil@example.com", PW);
    let wrong = app.resend("gil@example.com", "wrong horse");
    assert_error(&wrong, 401, "invalid_credentials");
    assert!(wrong.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    assert_error(&app.resend("nobody@example.com", PW), 401, "invalid_credentials");
    assert_error(&app.process.send("POST", "/resend", &[], None), 401, "invalid_credentials");
    assert_eq!(app.activate("gil@example.com", PW, &code).status, 200);
    assert_error(&app.resend("gil@example.com", PW), 409, "already_active");
    app.register_ok("hap@example.com", PW);
    app.expire_in("hap@example.com", -1.0);
    assert_error(&app.resend("hap@example.com", PW), 410, "code_expired");
    assert_eq!(app.row("hap@example.com"), None);
}

#[test]
fn a_resend_whose_mail_fails_leaves_the_claim_exactly_as_it_was() {
    let app = TestApp::spawn();
    let code = app.register_ok("ivy@example.com", PW);
    app.activate("ivy@example.com", PW, &other_code(&code));
    let snapshot = |app: &TestApp| -> String {
        app.sql().query_one(
            "SELECT row(code_hash, code_salt, code_expires_at, wrong_attempts, resends)::text FROM accounts",
            &[]).unwrap().get(0)
    };
    let before = snapshot(&app);
    app.mail.as_ref().unwrap().fail.store(true, Ordering::SeqCst);
    let response = app.resend("ivy@example.com", PW);
    assert_error(&response, 503, "mail_unavailable");
    assert!(response.header("retry-after").is_some());
    assert_eq!(snapshot(&app), before);
    app.mail.as_ref().unwrap().fail.store(false, Ordering::SeqCst);
    assert_eq!(app.activate("ivy@example.com", PW, &code).status, 200, "the old code still works");
}

#[test]
fn a_spent_wrong_code_budget_hardens_new_codes_and_never_locks_the_owner_out() {
    // Three claims' worth of wrong codes and one more (14 requests with the defaults) used to
    // answer the owner's next registration with 429 for up to 24 hours.
    let app = TestApp::spawn(); // MAX_WRONG_CODES_PER_EMAIL_PER_DAY=10, HARDENED_CODE_DIGITS=8
    let email = "jay@example.com";
    for _ in 0..3 {
        let code = app.register_ok(email, PW);
        assert_eq!(code.len(), 4);
        for _ in 0..2 {
            assert_eq!(app.activate(email, PW, &other_code(&code)).status, 422);
        }
        assert_error(&app.activate(email, PW, &other_code(&code)), 410, "attempts_exhausted");
    }
    let code = app.register_ok(email, PW);
    assert_eq!(code.len(), 4, "the budget is not spent yet: 9 wrong codes");
    assert_eq!(app.activate(email, PW, &other_code(&code)).status, 422);
    // Spent: the claim in flight keeps its code, a resend mails a hardened one and says why.
    assert_eq!(app.resend(email, PW).status, 202);
    let hardened = app.last_code_for(email);
    assert_eq!(hardened.len(), 8);
    let mail = app.mail.as_ref().unwrap().messages.lock().unwrap().last().cloned();
    assert!(mail.unwrap()["Text"].as_str().unwrap().contains("longer than usual"));
    // A well-formed code of the normal length is just wrong (and counted); other lengths are 400.
    assert_eq!(app.activate(email, PW, "1234").status, 422);
    assert_error(&app.activate(email, PW, "12345"), 400, "invalid_code_format");
    assert_eq!(app.activate(email, PW, &hardened).status, 200, "the owner gets in");
}

#[test]
fn new_claims_get_hardened_codes_while_the_budget_is_spent() {
    let app = TestApp::with()
        .env("MAX_WRONG_CODES_PER_EMAIL_PER_DAY", "4")
        .env("HARDENED_CODE_DIGITS", "6")
        .start();
    let first = app.register_ok("jay@example.com", PW);
    app.guess_wrong("jay@example.com", PW, &first, 2);
    assert_error(
        &app.activate("jay@example.com", PW, &other_code(&first)),
        410,
        "attempts_exhausted",
    );
    // Re-registering gives a new claim, but not a new budget: one more wrong code uses it up.
    let second = app.register_ok("jay@example.com", PW);
    assert_eq!(app.activate("jay@example.com", PW, &other_code(&second)).status, 422);
    // Spent: a new claim (here after the one in flight expired) gets a 6-digit code.
    app.expire_in("jay@example.com", -1.0);
    let hardened = app.register_ok("jay@example.com", PW);
    assert_eq!(hardened.len(), 6);
    assert_eq!(app.register_ok("kit@example.com", PW).len(), 4, "budgets are per email");
    assert_eq!(app.activate("jay@example.com", PW, &hardened).status, 200);
}

#[test]
fn common_passwords_are_rejected() {
    let app = TestApp::spawn();
    for common in ["password1", "iloveyou", "Baseball", "12345678"] {
        let response = app.register("kai@example.com", common);
        assert_error(&response, 400, "invalid_password");
        assert!(json(&response)["message"].as_str().unwrap().contains("common"));
    }
    assert_eq!(app.mails_sent(), 0);
}

#[test]
fn a_replaced_expired_claim_starts_with_a_fresh_resend_budget() {
    // The reaper must not get there first: the replacement happens on the expired row itself.
    let app =
        TestApp::with().env("MAX_RESENDS", "1").env("REAPER_INTERVAL_SECONDS", "86400").start();
    app.register_ok("lea@example.com", PW);
    assert_eq!(app.resend("lea@example.com", PW).status, 202);
    app.expire_in("lea@example.com", -1.0);
    let code = app.register_ok("lea@example.com", "another horse");
    let resent = app.resend("lea@example.com", "another horse");
    assert_eq!(resent.status, 202, "{}", body_text(&resent));
    let new = app.last_code_for("lea@example.com");
    assert_ne!(new, code);
    assert_eq!(app.activate("lea@example.com", "another horse", &new).status, 200);
}
