//! Moving users in and out: `beefirst import` makes accounts from another system's NDJSON (its
//! bcrypt and Argon2id hashes sign in, and are re-made at BCRYPT_COST on the first sign-in), skips
//! present emails, reports each bad line by number and skips only it, writes nothing with
//! `--dry-run`; `beefirst export` writes what an import reads back.

use crate::support::helpers::*;
use argon2::PasswordHasher;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Output, Stdio};

const PW: &str = "correct horse";
const OLD_PW: &str = "an old system's password";

/// Runs `beefirst ARGS` on `database_url`, with `stdin` piped in.
fn beefirst(database_url: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beefirst"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("BCRYPT_COST", "4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file of other systems' accounts: bcrypt $2y$ and $2a$, Argon2id, none, an unverified email
/// with a hash, a duplicate in the file, an email already here, and three bad lines.
fn other_systems_file() -> String {
    let argon = argon2::Argon2::default()
        .hash_password(
            OLD_PW.as_bytes(),
            &argon2::password_hash::SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap(),
        )
        .unwrap()
        .to_string();
    let y = bcrypt::hash_with_result(OLD_PW, 5).unwrap().format_for_version(bcrypt::Version::TwoY);
    let a = bcrypt::hash_with_result(OLD_PW, 6).unwrap().format_for_version(bcrypt::Version::TwoA);
    let lines = [
        json!({"email": "Yara@Example.com", "password_hash": y, "display_name": "Yara", "role": "admin", "created_at": "2019-05-06T07:08:09Z"}),
        json!({"email": "ada@example.com", "email_verified": true, "password_hash": a}),
        json!({"email": "argo@example.com", "password_hash": argon}),
        json!({"email": "nopass@example.com"}),
        json!({"email": "unproven@example.com", "email_verified": false, "password_hash": a}),
        json!({"email": "ada@example.com", "display_name": "a second Ada"}),
        json!({"email": "here@example.com"}),
    ];
    let mut out: Vec<String> = lines.iter().map(Value::to_string).collect();
    out.insert(2, "{\"email\": \"broken\"".into()); // line 3
    out.push(r#"{"email":"x@example.com","pasword_hash":"$2b$04$x"}"#.into()); // line 9
    out.push(String::new()); // blank lines are skipped
    out.push(r#"{"email":"old@example.com","password_hash":"$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}"#.into()); // line 11
    out.push(r#"{"email":"tz@example.com","created_at":"2021-01-01T00:00:00+16:00"}"#.into()); // 12
    let long = "x".repeat(70_000);
    out.push(format!(r#"{{"email":"long@example.com","display_name":"{long}"}}"#)); // 13
    out.push(
        json!({"email": "banned@example.com", "password_hash": a, "disabled": true}).to_string(),
    );
    out.join("\n") + "\n"
}

fn hash_of(app: &TestApp, email: &str) -> String {
    let sql = "SELECT password_hash FROM accounts WHERE email = $1";
    app.sql().query_one(sql, &[&email]).unwrap().get(0)
}

fn accounts(app: &TestApp) -> i64 {
    app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0)
}

#[test]
fn an_import_signs_people_in_with_their_old_hashes_reports_each_bad_line_and_dry_runs_write_nothing()
 {
    let app = TestApp::spawn();
    app.active_account("here@example.com", PW);
    let url = app.db.url();
    let file = std::env::temp_dir().join(format!("beefirst-import-{}.ndjson", app.process.pid()));
    std::fs::write(&file, other_systems_file()).unwrap();
    let path = file.to_str().unwrap();

    let dry = beefirst(&url, &["import", "--dry-run", path], b"");
    assert_eq!(
        text(&dry.stdout).trim(),
        "would import 6, skipped 2 (email already present), failed 5 (bad line)"
    );
    assert_eq!(dry.status.code(), Some(1), "bad lines: exit 1");
    assert_eq!(accounts(&app), 1, "a dry run writes nothing");

    let run = beefirst(&url, &["import", path], b"");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        text(&run.stdout).trim(),
        "imported 6, skipped 2 (email already present), failed 5 (bad line)"
    );
    assert_eq!(run.status.code(), Some(1));
    let report = text(&run.stderr);
    for expected in [
        "line 3: not a JSON object",
        "line 7: skipped, ada@example.com is already present",
        "line 8: skipped, here@example.com",
        "line 9: unknown field `pasword_hash`",
        "line 11: password_hash: bcrypt cost must be 04 to 16",
        "line 12: created_at",
        "line 13: longer than 65536 bytes",
    ] {
        assert!(report.contains(expected), "{expected:?} in {report}");
    }
    assert_eq!(accounts(&app), 7);
    assert_error(&app.login("banned@example.com", OLD_PW), 403, "account_disabled");

    // Old hashes sign in, and are re-made with bcrypt at BCRYPT_COST (4 here) on the way.
    for email in ["yara@example.com", "ada@example.com", "argo@example.com"] {
        assert!(!hash_of(&app, email).starts_with("$2b$04$"), "{email} as imported");
        let token = app.login_ok(email, OLD_PW);
        assert!(hash_of(&app, email).starts_with("$2b$04$"), "{email} re-hashed");
        assert_eq!(app.with_token("GET", "/me", &token, None).status, 200);
        assert_eq!(app.login(email, OLD_PW).status, 200, "{email}: the new hash works");
    }
    let me = json(&app.with_token("GET", "/me", &app.login_ok("yara@example.com", OLD_PW), None));
    assert_eq!((me["role"].as_str(), me["display_name"].as_str()), (Some("admin"), Some("Yara")));
    assert_eq!(me["created_at"], "2019-05-06T07:08:09Z");
    // No hash, or an unproven mailbox: no password (sign in by mailed code, passkey, provider).
    for email in ["nopass@example.com", "unproven@example.com"] {
        assert_error(&app.login(email, OLD_PW), 401, "invalid_credentials");
        let set: bool = app
            .sql()
            .query_one("SELECT password_set FROM accounts WHERE email = $1", &[&email])
            .unwrap()
            .get(0);
        assert!(!set, "{email}");
    }
    let events: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'imported'", &[])
        .unwrap()
        .get(0);
    assert_eq!(events, 6);

    let again = beefirst(&url, &["import", "-"], other_systems_file().as_bytes());
    assert!(text(&again.stdout).starts_with("imported 0, skipped 8"), "{}", text(&again.stdout));
}

#[test]
fn an_export_is_what_an_import_reads_and_round_trips_into_another_database() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    app.register_ok("pending@example.com", PW); // a claim: unverified, not exported
    beefirst(&app.db.url(), &["import", "-"], other_systems_file().as_bytes());
    let export = beefirst(&app.db.url(), &["export"], b"");
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let lines: Vec<Value> =
        text(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let emails: Vec<&str> = lines.iter().map(|l| l["email"].as_str().unwrap()).collect();
    assert_eq!(
        emails,
        [
            "ann@example.com",
            "yara@example.com",
            "ada@example.com",
            "argo@example.com",
            "nopass@example.com",
            "unproven@example.com",
            "here@example.com",
            "banned@example.com"
        ]
    );
    assert_eq!(lines[7]["disabled"], true, "a disabled account stays disabled");
    assert_eq!(lines[0].get("disabled"), None);
    assert!(lines[0]["password_hash"].as_str().unwrap().starts_with("$2b$04$"));
    assert!(lines[3]["password_hash"].as_str().unwrap().starts_with("$argon2id$"));
    assert_eq!(lines[4].get("password_hash"), None, "no password, no hash");
    assert_eq!(
        (&lines[1]["role"], &lines[1]["created_at"]),
        (&json!("admin"), &json!("2019-05-06T07:08:09Z"))
    );

    let elsewhere = TestDatabase::create();
    let back = beefirst(&elsewhere.url(), &["import", "-"], &export.stdout);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
    assert_eq!(
        text(&back.stdout).trim(),
        "imported 8, skipped 0 (email already present), failed 0 (bad line)"
    );
    let again = beefirst(&elsewhere.url(), &["export"], b"");
    assert_eq!(text(&again.stdout), text(&export.stdout), "the same accounts, byte for byte");
}

#[test]
fn a_missing_file_or_a_wrong_argument_is_refused_with_its_exit_code() {
    let db = TestDatabase::create();
    let missing = beefirst(&db.url(), &["import", "/nonexistent/users.ndjson"], b"");
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("cannot open /nonexistent/users.ndjson"));
    for args in [&["import"][..], &["import", "--force", "x"], &["export", "x"]] {
        let wrong = beefirst(&db.url(), args, b"");
        assert_eq!(wrong.status.code(), Some(2), "{args:?}");
        assert!(text(&wrong.stderr).contains("usage: beefirst"), "{args:?}");
    }
}

/// Runs `jq -c -f deploy/import/NAME.jq` on `input`: what the README tells an operator to run.
fn reshape(name: &str, input: &Value) -> Option<Vec<u8>> {
    if Command::new("jq").arg("--version").output().is_err() {
        missing_tool("jq (apt-get install jq)");
        return None;
    }
    let filter = format!("{}/deploy/import/{name}.jq", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("jq")
        .args(["-c", "-f", &filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "jq -f {filter}");
    Some(output.stdout)
}

#[test]
fn keycloak_and_supabase_users_reshaped_by_the_shipped_jq_filters_sign_in_with_their_passwords() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    // Keycloak's Argon2 credential: the raw hash and salt, padded base64, parameters apart.
    let salt = b"keycloak-salt-16";
    let mut raw = [0u8; 32];
    let params = argon2::Params::new(7168, 5, 1, Some(32)).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(OLD_PW.as_bytes(), salt, &mut raw)
        .unwrap();
    let argon_credential = json!({
        "type": "password",
        "secretData": json!({"value": b64(&raw), "salt": b64(salt), "additionalParameters": {}}).to_string(),
        "credentialData": json!({"hashIterations": 5, "algorithm": "argon2", "additionalParameters": {
            "hashLength": ["32"], "memory": ["7168"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}}).to_string(),
    });
    let pbkdf2 = json!({"type": "password", "secretData": "{\"value\":\"x\",\"salt\":\"y\"}",
                        "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\"}"});
    let realm = json!({"realm": "acme", "users": [
        {"username": "kim", "email": "kim@example.com", "emailVerified": true, "firstName": "Kim",
         "lastName": "Lee", "createdTimestamp": 1_700_000_000_123_i64, "credentials": [argon_credential]},
        {"username": "old", "email": "old@example.com", "emailVerified": true, "credentials": [pbkdf2]},
        {"username": "service-account-api", "serviceAccountClientId": "api", "credentials": []},
        {"username": "off", "email": "off@example.com", "enabled": false, "credentials": []},
    ]});
    let hash = bcrypt::hash(OLD_PW, 4).unwrap().replacen("$2b$", "$2a$", 1);
    let supabase = json!([
        {"email": "sam@example.com", "encrypted_password": hash, "email_confirmed_at": "2024-01-02T03:04:05+00:00",
         "created_at": "2024-01-02T03:04:05.123456+00:00", "raw_user_meta_data": {"full_name": "Sam Supa"}},
        {"email": "magic@example.com", "encrypted_password": "", "email_confirmed_at": null,
         "created_at": "2024-02-03T00:00:00+00:00", "raw_user_meta_data": {}},
    ]);
    let (Some(from_keycloak), Some(from_supabase)) =
        (reshape("keycloak", &realm), reshape("supabase", &supabase))
    else {
        return;
    };
    let app = TestApp::spawn();
    for (lines, expected) in [(from_keycloak, "imported 3,"), (from_supabase, "imported 2,")] {
        let run = beefirst(&app.db.url(), &["import", "-"], &lines);
        assert!(
            text(&run.stdout).starts_with(expected),
            "{}{}",
            text(&run.stdout),
            text(&run.stderr)
        );
        assert_eq!(run.status.code(), Some(0));
    }
    for email in ["kim@example.com", "sam@example.com"] {
        let me = json(&app.with_token("GET", "/me", &app.login_ok(email, OLD_PW), None));
        assert!(me["display_name"] == "Kim Lee" || me["display_name"] == "Sam Supa", "{me}");
    }
    let me = json(&app.with_token("GET", "/me", &app.login_ok("kim@example.com", OLD_PW), None));
    assert_eq!(me["created_at"], "2023-11-14T22:13:20Z");
    let off = "SELECT disabled_at IS NOT NULL FROM accounts WHERE email = 'off@example.com'";
    assert!(app.sql().query_one(off, &[]).unwrap().get::<_, bool>(0), "disabled there, here too");
    for email in ["old@example.com", "magic@example.com"] {
        assert_error(&app.login(email, OLD_PW), 401, "invalid_credentials");
    }
}

#[test]
fn a_cheaper_imported_hash_takes_as_long_as_an_unknown_email_until_it_is_re_made() {
    // The service at cost 10 (about 60 ms a check here), an account imported at cost 4 (1 ms):
    // a wrong password for it must not answer faster than one for an email that is no account.
    let app = TestApp::with().env("BCRYPT_COST", "10").start();
    let hash = bcrypt::hash(OLD_PW, 4).unwrap();
    let line = json!({"email": "cheap@example.com", "password_hash": hash}).to_string();
    beefirst(&app.db.url(), &["import", "-"], line.as_bytes());
    let time = |email: &str| {
        let mut took: Vec<std::time::Duration> = (0..5)
            .map(|_| {
                let started = std::time::Instant::now();
                assert_eq!(app.login(email, "not the password").status, 401);
                started.elapsed()
            })
            .collect();
        took.sort();
        took[2]
    };
    let (unknown, imported) = (time("nobody@example.com"), time("cheap@example.com"));
    assert!(imported * 2 > unknown, "imported {imported:?} against unknown {unknown:?}");
    assert!(!hash_of(&app, "cheap@example.com").starts_with("$2b$10$"), "not re-made by a failure");
    app.login_ok("cheap@example.com", OLD_PW);
    assert!(hash_of(&app, "cheap@example.com").starts_with("$2b$10$"), "re-made by a success");
}
