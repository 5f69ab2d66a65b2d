//! Mail through a real SMTP server on loopback (aiosmtpd, `tests/external/smtp_server.py`): plain
//! to loopback, STARTTLS and implicit TLS with a test CA given as `SMTP_CA_FILE`, AUTH PLAIN and LOGIN; a refused
//! connection, a certificate for another host, a server without STARTTLS, 421 or 451 then success, 550,
//! a server that stalls after DATA, a non-ASCII address with and without SMTPUTF8; an HTTPS mail API with an untrusted certificate. Every
//! message is parsed by Python's `email` package.

use crate::support::helpers::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/external/smtp_server.py");
const PW: &str = "correct horse";

/// The SMTP server; killed in `Drop`.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl SmtpServer {
    /// `serve ARGS`; `None` (after `missing_tool`) without Python's aiosmtpd.
    pub fn start(args: &[&str]) -> Option<SmtpServer> {
        let probe = Command::new("python3").args(["-c", "import aiosmtpd, cryptography"]).output();
        if !probe.is_ok_and(|o| o.status.success()) {
            missing_tool("python3 with aiosmtpd and cryptography (pip install aiosmtpd)");
            return None;
        }
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the SMTP server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let port = first.trim().strip_prefix("listening ").expect(&first).parse().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        });
        Some(SmtpServer { child, port, lines })
    }

    /// The messages accepted so far (refusals left out).
    pub fn messages(&self) -> Vec<Value> {
        self.lines.lock().unwrap().iter().filter(|l| l.get("refused").is_none()).cloned().collect()
    }

    /// The codes it answered DATA with instead of 250.
    fn refusals(&self) -> Vec<i64> {
        self.lines.lock().unwrap().iter().filter_map(|l| l["refused"].as_i64()).collect()
    }

    pub fn wait_for(&self, n: usize) -> Vec<Value> {
        eventually(&format!("{n} messages"), || self.messages().len() >= n);
        self.messages()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh test CA with a certificate for localhost and one for another host.
pub fn certs() -> String {
    let dir =
        std::env::temp_dir().join(format!("beefirst-smtp-{:016x}", getrandom::u64().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap().to_owned();
    let made = Command::new("python3").args([SCRIPT, "certs", &dir]).status().unwrap();
    assert!(made.success());
    dir
}

pub fn app_with(smtp_url: &str, env: &[(&str, &str)]) -> TestApp {
    let mut spawn = TestApp::with().console_mail().env("SMTP_URL", smtp_url);
    for (name, value) in env {
        spawn = spawn.env(name, value);
    }
    spawn.start()
}

/// Registers `email` and activates it with the code of the message the server got.
fn register_and_activate(app: &TestApp, server: &SmtpServer, email: &str) -> Value {
    let before = server.messages().len();
    assert_eq!(app.register(email, PW).status, 201);
    let message = server.wait_for(before + 1).pop().unwrap();
    let code = first_digits(message["text"].as_str().unwrap());
    assert_eq!(app.activate(email, PW, &code).status, 200, "the code of the text part");
    message
}

#[test]
fn plain_smtp_to_loopback_delivers_a_well_formed_message_whose_code_activates() {
    let Some(server) = SmtpServer::start(&["--mode", "plain"]) else { return };
    let app = app_with(&format!("smtp://127.0.0.1:{}?tls=off", server.port), &[]);
    let message = register_and_activate(&app, &server, "ann@example.com");
    assert_eq!(message["rcpt_tos"], json!(["ann@example.com"]));
    assert_eq!(message["mail_from"], "no-reply@beefirst.local");
    let headers = &message["headers"];
    for name in ["date", "message-id", "from", "to", "subject"] {
        assert!(headers.get(name).is_some(), "{name} in {headers}");
    }
    assert_eq!(message["tls"], false);
    assert_eq!(message["content_type"], "multipart/alternative");
    let (text, html) = (message["text"].as_str().unwrap(), message["html"].as_str().unwrap());
    assert!(html.contains(&first_digits(text)) && html.contains("<p"), "the same mail in HTML");
    let mailed: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM accounts WHERE status = 'active'", &[])
        .unwrap()
        .get(0);
    assert_eq!(mailed, 1);
}

#[test]
fn starttls_and_implicit_tls_verify_the_server_against_the_operators_ca_and_authenticate() {
    let dir = certs();
    let ca = format!("{dir}/ca.pem");
    for mechanism in ["PLAIN", "LOGIN"] {
        let auth = ["--auth", "mailer:s3cret pass", "--auth-only", mechanism];
        let Some(starttls) =
            SmtpServer::start(&[&["--mode", "starttls", "--certs", &dir][..], &auth].concat())
        else {
            return;
        };
        let url = format!("smtp://mailer:s3cret%20pass@localhost:{}", starttls.port);
        let app = app_with(&url, &[("SMTP_CA_FILE", &ca)]);
        let message = register_and_activate(&app, &starttls, "ann@example.com");
        assert_eq!(
            (&message["tls"], &message["auth"]),
            (&json!(true), &json!(true)),
            "{mechanism}"
        );
        let logs = app.process.stdout().join("\n");
        assert!(!logs.contains("s3cret"), "the password is never logged");
    }

    let Some(implicit) = SmtpServer::start(&["--mode", "tls", "--certs", &dir]) else { return };
    let app = app_with(&format!("smtps://localhost:{}", implicit.port), &[("SMTP_CA_FILE", &ca)]);
    let message = register_and_activate(&app, &implicit, "bob@example.com");
    assert_eq!(message["tls"], true);
}

#[test]
fn the_certificates_docker_compose_makes_for_mailpit_carry_starttls() {
    let dir = std::env::temp_dir()
        .join(format!("beefirst-compose-certs-{:016x}", getrandom::u64().unwrap()));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/mail-certs.sh");
    let made = Command::new("sh").arg(script).arg(&dir).arg("localhost").status().unwrap();
    assert!(made.success(), "deploy/mail-certs.sh needs the openssl command");
    let dir = dir.to_str().unwrap();
    let Some(server) = SmtpServer::start(&["--mode", "starttls", "--certs", dir]) else { return };
    let url = format!("smtp://localhost:{}", server.port);
    let app = app_with(&url, &[("SMTP_CA_FILE", &format!("{dir}/ca.pem"))]);
    let message = register_and_activate(&app, &server, "ann@example.com");
    assert_eq!(message["tls"], true);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_wrong_certificate_no_starttls_or_no_server_answers_503_and_releases_the_claim() {
    let dir = certs();
    let ca = format!("{dir}/ca.pem");
    let Some(wrong) = SmtpServer::start(&["--mode", "tls", "--certs", &dir, "--wrong-cert"]) else {
        return;
    };
    let Some(plain) = SmtpServer::start(&["--mode", "plain"]) else { return };
    let closed = free_port();
    for url in [
        format!("smtps://localhost:{}", wrong.port), // a certificate for wrong.example
        format!("smtp://localhost:{}", plain.port),  // STARTTLS required, not offered
        format!("smtp://127.0.0.1:{closed}?tls=off"), // nobody listening
    ] {
        let app = app_with(&url, &[("SMTP_CA_FILE", &ca), ("MAIL_TIMEOUT_MS", "2000")]);
        assert_error(&app.register("ann@example.com", PW), 503, "mail_unavailable");
        let rows: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
        assert_eq!(rows, 0, "{url}: the claim is released");
        assert!(
            app.process.stdout().iter().any(|l| l.contains("\"mail_failed\"")),
            "{url}: logged"
        );
    }
    assert!(
        wrong.messages().is_empty() && plain.messages().is_empty(),
        "nothing sent in the clear"
    );
}

#[test]
fn a_mail_api_over_https_must_show_a_certificate_the_public_roots_vouch_for() {
    let dir = certs();
    // A TLS server whose certificate is for localhost but from the test CA, which the HTTP
    // mailer does not trust (it trusts Mozilla's roots): the handshake fails, nothing is posted.
    let Some(server) = SmtpServer::start(&["--mode", "tls", "--certs", &dir]) else { return };
    let app = TestApp::with()
        .console_mail()
        .env("MAIL_API_URL", &format!("https://localhost:{}/api/v1/send", server.port))
        .env("MAIL_TIMEOUT_MS", "2000")
        .start();
    assert_error(&app.register("ann@example.com", PW), 503, "mail_unavailable");
    let failed = app.process.stdout().into_iter().find(|l| l.contains("\"mail_failed\""));
    let failed = failed.expect("the failure is logged");
    assert!(failed.to_lowercase().contains("certificate"), "{failed}");
    let rows: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(rows, 0, "the claim is released");
}

#[test]
fn queued_mail_is_retried_after_a_421_or_451_and_given_up_at_once_after_a_550() {
    for (reply, delivered) in [("421", true), ("451", true), ("550", false)] {
        let replies = format!("250,{reply}");
        let Some(server) = SmtpServer::start(&["--mode", "plain", "--replies", &replies]) else {
            return;
        };
        let app = app_with(&format!("smtp://127.0.0.1:{}?tls=off", server.port), &[]);
        register_and_activate(&app, &server, "ann@example.com");
        let forgot = json!({ "email": "ann@example.com" }).to_string();
        assert_eq!(app.post_json("/password/forgot", &forgot).status, 202);
        if delivered {
            let reset = server.wait_for(2).pop().unwrap();
            assert_eq!(server.refusals(), [reply.parse::<i64>().unwrap()]);
            assert!(first_digits(reset["text"].as_str().unwrap()).len() >= 6, "the reset code");
        } else {
            eventually("the mail given up", || {
                app.process
                    .stdout()
                    .iter()
                    .any(|l| l.contains("\"mail_given_up\"") && l.contains("\"permanent\":true"))
            });
            std::thread::sleep(Duration::from_millis(2500)); // a retry would come after 1 s
            assert_eq!((server.refusals(), server.messages().len()), (vec![550], 1), "tried once");
        }
        let logged = app.process.stdout().join("\n");
        let said = if delivered { "try again later" } else { "no such mailbox here" };
        assert!(logged.contains(said), "the server's reply is logged: {logged}");
    }
}

#[test]
fn a_non_ascii_address_is_sent_with_smtputf8_or_refused_at_once_by_a_server_without_it() {
    let email = "jörg@exämple.com";
    let Some(utf8) = SmtpServer::start(&["--mode", "plain", "--smtputf8"]) else { return };
    let app = app_with(&format!("smtp://127.0.0.1:{}?tls=off", utf8.port), &[]);
    let message = register_and_activate(&app, &utf8, email);
    // The domain goes out as its A-label (IDNA); the local part needs SMTPUTF8.
    assert_eq!(message["rcpt_tos"], json!(["jörg@xn--exmple-cua.com"]));

    let Some(ascii) = SmtpServer::start(&["--mode", "plain"]) else { return };
    let app = app_with(&format!("smtp://127.0.0.1:{}?tls=off", ascii.port), &[]);
    assert_error(&app.register(email, PW), 503, "mail_unavailable");
    let logged = app.process.stdout().join("\n");
    assert!(logged.contains("SMTPUTF8"), "the reason is logged: {logged}");
    assert_eq!(app.register("ann@example.com", PW).status, 201, "others still get their mail");
}

#[test]
fn a_server_that_stalls_after_data_times_out_and_nothing_is_half_kept() {
    let Some(server) = SmtpServer::start(&["--mode", "plain", "--stall"]) else { return };
    let app = app_with(
        &format!("smtp://127.0.0.1:{}?tls=off", server.port),
        &[("MAIL_TIMEOUT_MS", "1000")],
    );
    let started = Instant::now();
    assert_error(&app.register("ann@example.com", PW), 503, "mail_unavailable");
    assert!(started.elapsed() < Duration::from_secs(8), "bounded: {:?}", started.elapsed());
    let rows: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(rows, 0);
}
