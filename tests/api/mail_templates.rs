//! Mail templates an operator replaces (`MAIL_TEMPLATES_DIR`): what the mailbox gets through a
//! real SMTP server, parsed by Python's `email` package; and a broken folder that stops the
//! start with exit status 2 naming the file.

use crate::smtp::{SmtpServer, app_with};
use crate::support::helpers::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const BUILT_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/mail/templates");

/// A copy of the built-in templates with `changes` written over it.
fn operator_templates(changes: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("beefirst-mail-templates-{:016x}", getrandom::u64().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(BUILT_IN).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt" || e == "html") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    for (name, source) in changes {
        std::fs::write(dir.join(name), source).unwrap();
    }
    dir
}

#[test]
fn an_operators_templates_are_what_the_mailbox_gets_with_values_escaped_in_html() {
    let Some(server) = SmtpServer::start(&["--mode", "plain"]) else { return };
    let dir = operator_templates(&[
        (
            "verification.txt",
            "Subject: Welcome to Acme, {{ email }}\n\n{{ code }} is your Acme code.\n",
        ),
        (
            "verification.html",
            "{% extends \"layout.html\" %}{% block content %}<p class=\"acme\">{{ code }} for \
             {{ email }}</p>{% endblock %}",
        ),
    ]);
    let app = app_with(
        &format!("smtp://127.0.0.1:{}?tls=off", server.port),
        &[("MAIL_TEMPLATES_DIR", dir.to_str().unwrap())],
    );
    let email = "tom&jerry@example.com";
    assert_eq!(app.register(email, "correct horse").status, 201);
    let message = server.wait_for(1).pop().unwrap();
    assert_eq!(message["headers"]["subject"], format!("Welcome to Acme, {email}"));
    let text = message["text"].as_str().unwrap();
    let code = first_digits(text);
    assert_eq!(text.trim_end(), format!("{code} is your Acme code."));
    let html = message["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("<p class=\"acme\">{code} for tom&amp;jerry@example.com</p>")),
        "{html}"
    );
    assert!(html.contains("<title>Welcome to Acme, tom&amp;jerry@example.com</title>"));
    assert_eq!(app.activate(email, "correct horse", &code).status, 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_template_folder_stops_the_start_with_exit_2_naming_the_file() {
    let unknown =
        operator_templates(&[("passkey_added.txt", "Subject: New passkey\n\n{{ name }}")]);
    let late_code =
        operator_templates(&[("sign_in_code.txt", "Subject: x\n\nIn 15 minutes: {{ code }}")]);
    let missing = operator_templates(&[]);
    std::fs::remove_file(missing.join("layout.html")).unwrap();
    for (dir, file) in [
        (&unknown, "passkey_added.txt"),
        (&late_code, "sign_in_code.txt"),
        (&missing, "layout.html"),
    ] {
        let output = start_with_templates(dir);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("MAIL_TEMPLATES_DIR") && stderr.contains(file), "{stderr}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn start_with_templates(dir: &Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beefirst"));
    for setting in beefirst::config::SETTINGS {
        command.env_remove(setting.name);
    }
    // A database nobody serves, tried for no time: should the check not stop the start, the
    // process still ends (exit 1), instead of serving and hanging the test.
    command
        .env("MAIL_TEMPLATES_DIR", dir)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env("DB_STARTUP_TIMEOUT_SECONDS", "0")
        .output()
        .unwrap()
}
