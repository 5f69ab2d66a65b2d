use crate::support::helpers::*;
use std::time::{Duration, Instant};

const PW: &str = "correct horse battery";

#[test]
fn passwords_and_codes_are_stored_only_as_hashes() {
    let app = TestApp::spawn();
    let code = app.register_ok("pam@example.com", PW);
    let row = app
        .sql()
        .query_one(
            "SELECT password_hash, code_hash, row_to_json(accounts)::text FROM accounts",
            &[],
        )
        .unwrap();
    let (password_hash, code_hash, whole_row): (String, Vec<u8>, String) =
        (row.get(0), row.get(1), row.get(2));
    assert!(
        password_hash.starts_with("$2") && password_hash.len() == 60,
        "bcrypt: {password_hash}"
    );
    assert!(bcrypt::verify(PW, &password_hash).unwrap());
    assert_eq!(code_hash.len(), 32, "SHA-256");
    assert!(!whole_row.contains(PW));
    assert!(!whole_row.contains(&format!("\"{code}\"")));
}

#[test]
fn codes_and_passwords_never_appear_in_responses_or_logs() {
    let app = TestApp::spawn();
    let mut responses = Vec::new();
    responses.push(app.register("quinn@example.com", PW));
    let code = app.last_code_for("quinn@example.com");
    responses.push(app.activate("quinn@example.com", PW, &other_code(&code)));
    responses.push(app.resend("quinn@example.com", PW));
    let resent = app.last_code_for("quinn@example.com");
    responses.push(app.activate("quinn@example.com", PW, &resent));
    responses.push(app.activate("quinn@example.com", "wrong password", &code));
    for response in &responses {
        let text = body_text(response);
        assert!(!text.contains(&code) && !text.contains(&resent) && !text.contains(PW), "{text}");
    }
    app.process.wait_logged();
    let logs = app.process.stdout().join("\n");
    assert!(logs.contains("\"request\""), "requests are logged");
    let auth = basic("quinn@example.com", PW);
    let token = auth.trim_start_matches("Basic ");
    // A 4-digit code can occur by chance inside a timestamp or a request id, so codes are looked
    // for the way they would leak: as a JSON string or in the mail sentence.
    let mut secrets =
        vec![PW.to_owned(), "wrong password".to_owned(), token.to_owned(), "Basic ".to_owned()];
    for c in [&code, &resent] {
        secrets.push(format!("\"{c}\""));
        secrets.push(format!("code is {c}"));
    }
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "{secret:?} leaked into the logs:\n{logs}");
    }
}

/// Median time of `n` activations.
fn median_activation(app: &TestApp, email: &str, password: &str, n: usize) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            assert_eq!(app.activate(email, password, "1234").status, 401);
            started.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

#[test]
fn unknown_emails_cost_a_bcrypt_verification_like_wrong_passwords() {
    // At cost 10 a verification takes tens of milliseconds; skipping it for unknown emails (or
    // for over-long passwords) would make those answers several times faster.
    let app = TestApp::with().env("BCRYPT_COST", "10").start();
    app.register_ok("rex@example.com", PW);
    let wrong_password = median_activation(&app, "rex@example.com", "wrong password", 5);
    let unknown_email = median_activation(&app, "nobody@example.com", PW, 5);
    let too_long = median_activation(&app, "rex@example.com", &"x".repeat(100), 5);
    let malformed_email = median_activation(&app, "not-an-email", PW, 5);
    for (what, took) in [
        ("unknown email", unknown_email),
        ("73+ byte password", too_long),
        ("malformed email", malformed_email),
    ] {
        assert!(took * 2 > wrong_password, "{what}: {took:?} vs wrong password {wrong_password:?}");
    }
}
