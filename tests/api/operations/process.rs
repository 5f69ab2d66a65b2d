use crate::support::helpers::*;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn beefirst(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beefirst"));
    for setting in beefirst::config::SETTINGS {
        command.env_remove(setting.name);
    }
    command.envs(env.iter().copied()).args(args).output().unwrap()
}

#[test]
fn help_prints_every_setting_with_its_default_and_range() {
    let output = beefirst(&[], &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in beefirst::config::SETTINGS {
        let range = setting.range.map_or(String::new(), |(min, max)| format!(", {min} to {max}"));
        let heading = format!("{}  (default: {}{range})", setting.name, setting.default);
        assert!(help.contains(&heading), "{heading}");
    }
}

/// A row of README's configuration table: `| `NAME` | default | range | meaning |`, split.
fn setting_row(line: &str) -> Option<Vec<&str>> {
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
    let upper = name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    (upper && cells.len() >= 6).then_some(cells)
}

#[test]
fn the_readme_lists_every_setting_in_order_with_its_default_and_range() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<Vec<&str>> = readme.lines().filter_map(setting_row).collect();
    let names: Vec<&str> = rows.iter().map(|row| row[1].trim_matches('`')).collect();
    let settings: Vec<&str> = beefirst::config::SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(names, settings, "README's configuration table and SETTINGS differ");
    for (row, setting) in rows.iter().zip(beefirst::config::SETTINGS) {
        assert_eq!(row[2].trim_matches('`'), setting.default, "{}", setting.name);
        let range = setting.range.map_or(String::new(), |(min, max)| format!("{min} to {max}"));
        assert_eq!(row[3], range, "{}", setting.name);
    }
}

#[test]
fn invalid_configuration_exits_2_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("WORKERS", "0"),
        ("BCRYPT_COST", "99"),
        ("BIND_ADDR", "nowhere"),
        ("CODE_TTL_SECONDS", "x"),
        ("WEBAUTHN_RP_ID", "127.0.0.1"),
        ("WEBAUTHN_ORIGINS", "https://elsewhere.example"),
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
        assert!(line.contains("database at 127.0.0.1:1 unreachable"), "{line}");
        assert!(line.contains("Connection refused"), "the cause, not just its kind: {line}");
    }
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_database_that_does_not_exist_fails_at_once_with_a_clear_message() {
    let missing = crate::support::fixtures::database_url("beefirst_no_such_database");
    for args in [&["admin", "grant", "ann@example.com"][..], &[][..]] {
        let started = Instant::now();
        let output = beefirst(&[("DATABASE_URL", &missing), ("BIND_ADDR", "127.0.0.1:0")], args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("\"beefirst_no_such_database\""), "{stderr}");
        assert!(stderr.contains("does not exist") && stderr.contains("DATABASE_URL"), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(5), "no retries: {:?}", started.elapsed());
    }
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
    assert!(beefirst(&[("BIND_ADDR", &addr)], &["--healthcheck"]).status.success());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    assert_eq!(beefirst(&[("BIND_ADDR", &closed)], &["--healthcheck"]).status.code(), Some(1));
}

/// The scheduling policy (`/proc/<pid>/task/<tid>/stat` field 41) of each of the process's
/// threads, by thread name.
fn thread_policies(pid: u32) -> Vec<(String, u32)> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let dir = entry.path();
        let (Ok(name), Ok(stat)) =
            (std::fs::read_to_string(dir.join("comm")), std::fs::read_to_string(dir.join("stat")))
        else {
            continue;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        threads.push((name.trim_end().to_owned(), fields[38].parse().unwrap()));
    }
    threads
}

#[test]
fn bcrypt_runs_on_threads_of_its_own_at_idle_priority_and_nothing_else_does() {
    let app = std::sync::Arc::new(TestApp::with().env("BCRYPT_COST", "14").start());
    let a = std::sync::Arc::clone(&app);
    let registration = std::thread::spawn(move || a.register("me@example.com", "correct horse"));
    let pid = app.process.pid();
    eventually("a bcrypt thread", || thread_policies(pid).iter().any(|(name, _)| name == "bcrypt"));
    for (name, policy) in thread_policies(pid) {
        let expected = if name == "bcrypt" { 5 } else { 0 }; // SCHED_IDLE, SCHED_OTHER
        assert_eq!(policy, expected, "{name}");
    }
    assert_eq!(registration.join().unwrap().status, 201);
}

#[test]
fn running_out_of_file_descriptors_is_logged_and_exits_non_zero_for_a_restart() {
    let mut app = TestApp::spawn();
    let pid = app.process.pid().to_string();
    // Both limits down to 64 on the running process: the start-up raise cannot undo it.
    let lowered = Command::new("prlimit").args(["--pid", &pid, "--nofile=64:64"]).status();
    if !lowered.is_ok_and(|s| s.success()) {
        missing_tool("prlimit (util-linux)");
        return;
    }
    let _held: Vec<TcpStream> =
        (0..100).filter_map(|_| TcpStream::connect(app.process.addr).ok()).collect();
    let status = app.process.wait_exit(Duration::from_secs(10));
    let status = status.expect("the process must exit when it cannot accept any more");
    assert_eq!(status.code(), Some(1));
    let stdout = app.process.stdout();
    assert!(stdout.iter().any(|l| l.contains("\"listener_failed\"")), "{stdout:?}");
}

#[test]
fn a_database_of_the_build_before_sign_in_codes_is_moved_over_at_start() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    let first = Process::start(&env);
    drop(first);
    // What the earlier build left: its two tables of reset codes and requests, and a confirmed
    // factor whose account row does not say so.
    super::schema::leave_a_confirmed_factor_unflagged(&db);
    db.client()
        .batch_execute(
            "DROP TABLE mailed_codes; DROP TABLE code_requests;
             DELETE FROM schema_applied;
             CREATE TABLE password_resets (
                 account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
                 email text NOT NULL, code_hash bytea NOT NULL, code_salt bytea NOT NULL,
                 credential_version integer NOT NULL, wrong_attempts integer NOT NULL DEFAULT 0,
                 created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL);
             INSERT INTO password_resets (account_id, email, code_hash, code_salt,
                                          credential_version, wrong_attempts, expires_at)
                  SELECT id, email, '\\x01', '\\x02', 0, 2, now() + interval '10 minutes'
                    FROM accounts;
             CREATE TABLE reset_requests (
                 id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL,
                 client_ip text, request_id text, requested_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO reset_requests (email, request_id) VALUES ('nobody@example.com', 'r1');",
        )
        .unwrap();
    // Both the move and the clean-up are the next start's work; it also looks at the factor. (The
    // request is for an unknown address: the worker takes it and makes nothing.)
    let second = Process::start(&env);
    let mut sql = db.client();
    let moved = sql
        .query_one("SELECT purpose, wrong_attempts, code_hash = '\\x01' FROM mailed_codes", &[])
        .unwrap();
    assert_eq!(
        (moved.get::<_, String>(0), moved.get::<_, i32>(1), moved.get::<_, bool>(2)),
        ("password_reset".to_owned(), 2, true)
    );
    let tables: i64 = sql
        .query_one(
            "SELECT count(*) FROM information_schema.tables
              WHERE table_name IN ('password_resets', 'reset_requests')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "the old tables are gone");
    let flagged: bool = sql.query_one("SELECT mfa_enabled FROM accounts", &[]).unwrap().get(0);
    assert!(flagged, "the confirmed factor is on the account row");
    drop(second);
}
