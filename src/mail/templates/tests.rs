use super::{BUILT_IN, first_digits};
use crate::domain::Email;
use crate::mail::notice::built_in_templates;
use crate::mail::{Notice, NoticeKind, load_templates};
use std::path::PathBuf;

fn ann() -> Email {
    Email::parse("ann@example.com").unwrap()
}

/// A copy of the built-in templates in a fresh folder, with `changes` (name, source) applied.
fn operator_dir(test: &str, changes: &[(&str, Option<&str>)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("beefirst-templates-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, source) in BUILT_IN {
        std::fs::write(dir.join(name), source).unwrap();
    }
    for (name, source) in changes {
        match source {
            Some(source) => std::fs::write(dir.join(name), source).unwrap(),
            None => std::fs::remove_file(dir.join(name)).unwrap(),
        }
    }
    dir
}

fn load_error(test: &str, changes: &[(&str, Option<&str>)]) -> String {
    let dir = operator_dir(test, changes);
    let result = load_templates(Some(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    result.expect_err("the templates should have been refused")
}

#[test]
fn every_kind_renders_with_its_code_first_in_the_text() {
    let templates = built_in_templates().unwrap();
    for notice in Notice::samples(&ann()) {
        let message = notice.message(templates).unwrap();
        assert!(!message.subject.is_empty() && !message.subject.contains('\n'));
        assert!(message.html.starts_with("<!DOCTYPE html>"), "{}", message.html);
        assert!(message.html.contains(&format!("<title>{}</title>", message.subject)));
        if notice.expires_in().is_some() {
            assert_eq!(first_digits(&message.text), "80417", "{}", message.text);
            assert!(message.html.contains(">80417</p>"), "{}", message.html);
        }
    }
    let reset =
        Notice::new(&ann(), NoticeKind::ResetCode { code: "0123".into(), ttl_seconds: 900 });
    let text = reset.message(templates).unwrap().text;
    assert!(
        text.starts_with("Your beefirst password reset code is 0123. It expires in 15 minutes.")
    );
}

#[test]
fn values_are_escaped_in_html_and_cannot_start_a_header() {
    let templates = built_in_templates().unwrap();
    let name = "<script>x</script> & \"co\"".to_owned();
    let added = Notice::new(&ann(), NoticeKind::PasskeyAdded { name }).message(templates).unwrap();
    assert!(added.text.contains("named \"<script>x</script> & \"co\"\""), "{}", added.text);
    assert!(added.html.contains("&lt;script&gt;x&lt;&#x2f;script&gt; &amp; &quot;co&quot;"));
    assert!(!added.html.contains("<script>"));
    let provider = "corp\r\nBcc: eve@example.com\n\nHi".to_owned();
    let linked = Notice::new(&ann(), NoticeKind::IdentityLinked { provider });
    let subject = linked.message(templates).unwrap().subject;
    assert_eq!(subject, "Your corp Bcc: eve@example.com Hi sign-in was linked to your account");
}

#[test]
fn an_operator_folder_replaces_them_and_may_include_its_own_partials() {
    let dir = operator_dir(
        "ok",
        &[
            (
                "sign_in_code.txt",
                Some("Subject: Sign in to Acme\r\n\r\n{{ code }} {% include \"footer.txt\" %}\n"),
            ),
            ("footer.txt", Some("-- Acme, for {{ email }}")),
        ],
    );
    let templates = load_templates(Some(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let notice =
        Notice::new(&ann(), NoticeKind::SignInCode { code: "4711".into(), ttl_seconds: 60 });
    let message = notice.message(&templates).unwrap();
    assert_eq!(message.subject, "Sign in to Acme");
    assert_eq!(message.text, "4711 -- Acme, for ann@example.com");
}

#[test]
fn a_text_partial_is_escaped_in_html_and_the_engines_globals_are_allowed() {
    let dir = operator_dir(
        "partial",
        &[
            ("passkey_added.html", Some("{% include \"name.txt\" %}")),
            ("name.txt", Some("{% for _ in range(1) %}{{ passkey_name }}{% endfor %}")),
        ],
    );
    let templates = load_templates(Some(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let name = "<b>Laptop</b>".to_owned();
    let message =
        Notice::new(&ann(), NoticeKind::PasskeyAdded { name }).message(&templates).unwrap();
    assert_eq!(message.html, "&lt;b&gt;Laptop&lt;&#x2f;b&gt;");
}

#[test]
fn a_broken_operator_folder_is_refused_naming_the_file() {
    let missing = load_error("missing", &[("totp_enabled.html", None)]);
    assert!(missing.starts_with("totp_enabled.html is missing"), "{missing}");
    let unknown = load_error("unknown", &[("passkey_added.txt", Some("Subject: x\n\n{{ name }}"))]);
    assert!(unknown.starts_with("passkey_added.txt uses the unknown variable `name`"), "{unknown}");
    assert!(unknown.contains("passkey_name"), "it says what it can use: {unknown}");
    let syntax = load_error("syntax", &[("layout.html", Some("{% block content %}"))]);
    assert!(syntax.contains("layout.html"), "{syntax}");
    let digits = load_error(
        "digits",
        &[("verification.txt", Some("Subject: x\n\nValid for {{ ttl_seconds }} s: {{ code }}"))],
    );
    assert!(digits.starts_with("verification.txt must show {{ code }} before any"), "{digits}");
    let subject =
        load_error("subject", &[("password_reset.txt", Some("Your password was reset."))]);
    assert!(subject.starts_with("password_reset.txt must start with a Subject: line"), "{subject}");
    let include = load_error(
        "include",
        &[("totp_disabled.txt", Some("Subject: x\n\n{% include \"gone.txt\" %}"))],
    );
    assert!(include.contains("gone.txt"), "{include}");
    let dir = std::env::temp_dir().join("beefirst-templates-nowhere");
    assert!(load_templates(Some(&dir)).unwrap_err().contains("layout.html is missing"));
}
