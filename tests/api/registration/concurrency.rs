use crate::support::helpers::*;
use std::sync::Arc;

const PW: &str = "correct horse";

#[test]
fn twenty_concurrent_registrations_of_one_email_yield_exactly_one_claim() {
    let app = Arc::new(TestApp::with().env("HASH_THREADS", "20").env("DB_POOL_SIZE", "16").start());
    let a = Arc::clone(&app);
    let statuses =
        in_parallel(20, move |i| a.register("race@example.com", &format!("password {i}")).status);
    assert_eq!((count(&statuses, 201), count(&statuses, 409)), (1, 19), "{statuses:?}");
    let rows: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(rows, 1);
    assert_eq!(app.mails_sent(), 1);
}

#[test]
fn fifty_parallel_wrong_codes_get_at_most_three_evaluations() {
    let app = Arc::new(TestApp::with().env("HASH_THREADS", "50").env("DB_POOL_SIZE", "16").start());
    let code: u32 = app.register_ok("guess@example.com", PW).parse().unwrap();
    let a = Arc::clone(&app);
    let statuses = in_parallel(50, move |i| {
        let wrong = format!("{:04}", (code + 1 + i as u32) % 10_000);
        a.activate("guess@example.com", PW, &wrong).status
    });
    assert_eq!(count(&statuses, 422), 2, "{statuses:?}");
    assert_eq!(count(&statuses, 410), 1, "{statuses:?}");
    // Once the claim is released the email is unknown, and unknown emails' passwords count
    // against the login-failure limit here as at /login: the tail may be 429 instead of 401.
    assert_eq!(count(&statuses, 401) + count(&statuses, 429), 47, "{statuses:?}");
    assert_eq!(app.row("guess@example.com"), None);
}

#[test]
fn fifty_parallel_guesses_including_the_right_one_never_exceed_three_evaluations() {
    let app = Arc::new(TestApp::with().env("HASH_THREADS", "50").env("DB_POOL_SIZE", "16").start());
    let code: u32 = app.register_ok("mixed@example.com", PW).parse().unwrap();
    let a = Arc::clone(&app);
    let statuses = in_parallel(50, move |i| {
        let guess = format!("{:04}", (code + i as u32) % 10_000); // i == 0 is the right code
        a.activate("mixed@example.com", PW, &guess).status
    });
    let wrong_evaluations = count(&statuses, 422) + count(&statuses, 410);
    assert!(wrong_evaluations <= 3, "{statuses:?}");
    match app.row("mixed@example.com") {
        Some((status, attempts)) => {
            assert_eq!(status, "active");
            assert_eq!(count(&statuses, 410), 0);
            assert!(count(&statuses, 422) <= 2 && attempts == 0);
        }
        None => assert_eq!((count(&statuses, 410), count(&statuses, 200)), (1, 0), "{statuses:?}"),
    }
}

#[test]
fn a_registration_racing_an_activation_cannot_reclaim_the_email() {
    // The claim has expired by the database clock while an activation of it is still in flight
    // (simulated by this test's own transaction, which holds the row lock). The registration must
    // wait for the lock and then see the committed activation: 409, never a new pending claim.
    let app = Arc::new(TestApp::spawn());
    app.register_ok("tie@example.com", PW);
    app.expire_in("tie@example.com", -1.0);
    let mut db = app.sql();
    let mut tx = db.transaction().unwrap();
    tx.execute(
        "UPDATE accounts SET status = 'active', activated_at = now(),
                code_hash = NULL, code_salt = NULL, code_expires_at = NULL
          WHERE email = 'tie@example.com'",
        &[],
    )
    .unwrap();
    let a = Arc::clone(&app);
    let registration =
        std::thread::spawn(move || a.register("tie@example.com", "squatter password"));
    eventually("the registration to wait for the row lock", || app.waiting_for_locks() == 1);
    assert!(!registration.is_finished());
    tx.commit().unwrap();
    assert_error(&registration.join().unwrap(), 409, "email_taken");
    assert_eq!(app.row("tie@example.com"), Some(("active".into(), 0)));
}
