use crate::helpers::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn beefirst(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beefirst"));
    for setting in beefirst::config::SETTINGS {
        command.env_remove(setting.name);
    }
    command
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_prints_every_setting_with_its_default() {
    let output = beefirst(&[], &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in beefirst::config::SETTINGS {
        assert!(
            help.contains(setting.name) && help.contains(setting.default),
            "{}",
            setting.name
        );
    }
}

#[test]
fn invalid_configuration_exits_2_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("WORKERS", "0"),
        ("BCRYPT_COST", "99"),
        ("BIND_ADDR", "nowhere"),
        ("CODE_TTL_SECONDS", "x"),
    ] {
        let output = beefirst(&[(var, value)], &[]);
        assert_eq!(output.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
}

#[test]
fn an_unreachable_database_at_start_exits_non_zero_after_bounded_retries() {
    let started = Instant::now();
    let output = beefirst(
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("DB_STARTUP_TIMEOUT_SECONDS", "1"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("database unreachable")
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn several_instances_starting_at_once_apply_the_schema_safely() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    let starters: Vec<_> = (0..4)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || Process::start(&env))
        })
        .collect();
    let processes: Vec<Process> = starters.into_iter().map(|h| h.join().unwrap()).collect();
    for process in &processes {
        assert_eq!(process.send("GET", "/health", &[], None).status, 200);
    }
}

#[test]
fn the_first_stdout_line_says_listening_with_the_bound_address() {
    let app = TestApp::spawn();
    let first = app.process.stdout()[0].clone();
    assert!(
        first.contains("listening") && first.contains(&app.process.addr.to_string()),
        "{first}"
    );
}

#[test]
fn healthcheck_exits_0_only_when_the_service_answers() {
    let app = TestApp::spawn();
    let addr = app.process.addr.to_string();
    assert!(
        beefirst(&[("BIND_ADDR", &addr)], &["--healthcheck"])
            .status
            .success()
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    assert_eq!(
        beefirst(&[("BIND_ADDR", &closed)], &["--healthcheck"])
            .status
            .code(),
        Some(1)
    );
}
