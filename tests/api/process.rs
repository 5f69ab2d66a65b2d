use crate::helpers::*;
use std::net::TcpStream;
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
fn an_unreachable_database_at_start_exits_non_zero_after_calm_bounded_retries() {
    let started = Instant::now();
    let output = beefirst(
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("DB_STARTUP_TIMEOUT_SECONDS", "3"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    // Attempts at 0, 0.5 and 1.5 s (pauses double up to 5 s), then the final error.
    assert!((2..=4).contains(&lines.len()), "{stderr}");
    for line in &lines {
        assert!(
            line.contains("database at 127.0.0.1:1 unreachable"),
            "{line}"
        );
        assert!(
            line.contains("Connection refused"),
            "the cause, not just its kind: {line}"
        );
    }
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

/// The fields of `/proc/<pid>/stat` after the parenthesised command name (state, ppid, pgrp,
/// session, ..., policy at index 38); `None` once the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split(' ').map(str::to_owned).collect())
}

/// The service's live child processes: (pid, command line, session id, scheduling policy).
fn children_of(pid: u32) -> Vec<(u32, String, u32, u32)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some(fields) = stat_fields(child) else {
            continue;
        };
        if fields[1].parse::<u32>() == Ok(pid) && fields[0] != "Z" {
            let cmdline = std::fs::read_to_string(format!("/proc/{child}/cmdline")).unwrap();
            let session = fields[3].parse().unwrap();
            children.push((
                child,
                cmdline.replace('\0', " "),
                session,
                fields[38].parse().unwrap(),
            ));
        }
    }
    children
}

#[test]
fn bcrypt_runs_in_idle_priority_helper_processes_each_in_its_own_session() {
    let app = TestApp::with().env("HASH_THREADS", "3").start();
    let helpers = children_of(app.process.pid());
    assert_eq!(helpers.len(), 3, "{helpers:?}");
    for (pid, cmdline, session, policy) in helpers {
        assert!(cmdline.contains("--bcrypt-helper"), "{cmdline}");
        assert_eq!(session, pid, "a session of its own (its own autogroup)");
        assert_eq!(policy, 5, "SCHED_IDLE");
        if let Ok(group) = std::fs::read_to_string(format!("/proc/{pid}/autogroup")) {
            assert!(group.trim_end().ends_with("nice 19"), "{group}");
        }
    }
    assert_eq!(app.register("me@example.com", "correct horse").status, 201);
}

#[test]
fn killed_bcrypt_helpers_are_replaced_without_failing_a_request() {
    let app = TestApp::with().env("HASH_THREADS", "2").start();
    let first: Vec<u32> = children_of(app.process.pid()).iter().map(|c| c.0).collect();
    for pid in &first {
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(app.register("me@example.com", "correct horse").status, 201);
    let code = app.last_code_for("me@example.com");
    let activated = app.activate("me@example.com", "correct horse", &code);
    assert_eq!(activated.status, 200, "{}", body_text(&activated));
    let now: Vec<u32> = children_of(app.process.pid()).iter().map(|c| c.0).collect();
    assert!(
        !now.is_empty() && now.iter().all(|pid| !first.contains(pid)),
        "{now:?}"
    );
    let exited = app
        .process
        .stdout()
        .iter()
        .filter(|l| l.contains("bcrypt_helper_exited") || l.contains("bcrypt_helper_failed"))
        .count();
    assert!(exited >= 1, "the replacement is logged");
    let metrics = body_text(&app.process.send("GET", "/metrics", &[], None));
    assert!(
        metrics.contains(&format!(
            "beefirst_bcrypt_helpers_replaced_total {exited}\n"
        )),
        "{metrics}"
    );
}

#[test]
fn bcrypt_helpers_exit_with_the_service_even_when_it_is_killed() {
    let mut app = TestApp::with().env("HASH_THREADS", "2").start();
    let helpers: Vec<u32> = children_of(app.process.pid()).iter().map(|c| c.0).collect();
    assert_eq!(helpers.len(), 2);
    app.process.signal("KILL");
    assert!(app.process.wait_exit(Duration::from_secs(5)).is_some());
    let alive = |pid: &u32| stat_fields(*pid).is_some_and(|fields| fields[0] != "Z");
    let deadline = Instant::now() + Duration::from_secs(5);
    while helpers.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!helpers.iter().any(alive), "helpers outlived the service");
}

#[test]
fn running_out_of_file_descriptors_is_logged_and_exits_non_zero_for_a_restart() {
    let mut app = TestApp::spawn();
    let pid = app.process.pid().to_string();
    // Both limits down to 64 on the running process: the start-up raise cannot undo it.
    let lowered = Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=64:64"])
        .status();
    if !lowered.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: prlimit (util-linux) is not available");
        return;
    }
    let _held: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(app.process.addr).ok())
        .collect();
    let status = app.process.wait_exit(Duration::from_secs(10));
    let status = status.expect("the process must exit when it cannot accept any more");
    assert_eq!(status.code(), Some(1));
    let stdout = app.process.stdout();
    assert!(
        stdout.iter().any(|l| l.contains("\"listener_failed\"")),
        "{stdout:?}"
    );
}
