//! The bcrypt helper process: `beefirst --bcrypt-helper`, started by [`super::Hasher`] only.
//!
//! It leaves its parent's session (`setsid`), sets that session's autogroup to nice 19, moves its
//! one thread to Linux's `SCHED_IDLE` class, says `{"ready":true}`, then answers one JSON line on stdout for each JSON line on stdin until
//! stdin closes (its parent
//! exited or replaced it). It opens no socket, reads no configuration and writes nothing else to
//! stdout; passwords and hashes pass only through the pipes.
//!
//! Requests and answers:
//!
//! ```text
//! {"op":"hash","password":"…","cost":12}       → {"hash":"$2b$12$…"}
//! {"op":"verify","password":"…","hash":"$2b$…"} → {"verified":true}
//! anything else, or a failed hash               → {"error":"…"}
//! ```

use serde_json::{Value, json};
use std::io::{self, BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

/// The command-line argument that turns the `beefirst` binary into a bcrypt helper.
pub const ARG: &str = "--bcrypt-helper";

/// The first line a helper writes, once it has detached.
pub const READY: &str = r#"{"ready":true}"#;

/// Entry point of a helper process: detaches, says [`READY`], then serves stdin until it closes.
/// Exit code 0 on end of input, 1 when a pipe fails.
pub fn main() -> ExitCode {
    detach();
    let mut stdout = io::stdout().lock();
    let ready = writeln!(stdout, "{READY}").and_then(|()| stdout.flush());
    match ready.and_then(|()| serve(io::stdin().lock(), stdout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("beefirst {ARG}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Answers each request line of `input` with one line on `output`, flushed, until end of input.
/// Errors: reading or writing failed.
pub fn serve(input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        let answer = catch_unwind(AssertUnwindSafe(|| answer(&line)))
            .unwrap_or_else(|_| json!({"error": "the computation panicked"}));
        writeln!(output, "{answer}")?;
        output.flush()?;
    }
    Ok(())
}

fn answer(line: &str) -> Value {
    let Ok(request) = serde_json::from_str::<Value>(line) else {
        return json!({"error": "not a JSON line"});
    };
    let password = request["password"].as_str().unwrap_or_default();
    match (
        request["op"].as_str(),
        &request["cost"],
        request["hash"].as_str(),
    ) {
        (Some("hash"), Value::Number(cost), _) => {
            let cost = cost
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(0);
            match bcrypt::hash(password, cost) {
                Ok(hash) => json!({"hash": hash}),
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        // A malformed hash verifies nothing (`false`), as a wrong password would.
        (Some("verify"), _, Some(hash)) => {
            json!({"verified": bcrypt::verify(password, hash).unwrap_or(false)})
        }
        _ => json!({"error": "unknown request"}),
    }
}

/// A new session (so, with `kernel.sched_autogroup_enabled=1`, its own scheduling group, apart
/// from the service's request threads and from PostgreSQL) whose group weight is the lowest
/// (autogroup nice 19: the kernel weighs groups against each other by that, whatever the classes
/// of the threads inside), and the `SCHED_IDLE` class: it runs only on CPU time no normal thread
/// wants. Without autogroup the file is absent and the class alone does it. Failures are reported
/// on stderr and leave the process where it was.
fn detach() {
    // SAFETY: plain system calls without pointers (setsid) or with a valid, initialized parameter
    // for the calling thread, pid 0 (sched_setscheduler).
    let (session, class) = unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        (
            libc::setsid(),
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param),
        )
    };
    // The new session's autogroup at the lowest weight (nice 19), where the kernel has autogroups.
    let _ = std::fs::write("/proc/self/autogroup", "19");
    if session == -1 || class != 0 {
        let error = io::Error::last_os_error();
        eprintln!("beefirst {ARG}: cannot detach (setsid {session}, SCHED_IDLE {class}): {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(requests: &[Value]) -> Vec<Value> {
        let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
        let mut output = Vec::new();
        serve(input.as_bytes(), &mut output).unwrap();
        let text = String::from_utf8(output).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn hashes_then_verifies_one_line_per_request() {
        let password = "new\nline \"quoted\" pässword";
        let hashed = ask(&[json!({"op": "hash", "password": password, "cost": 4})]);
        let hash = hashed[0]["hash"].as_str().unwrap().to_owned();
        assert!(hash.starts_with("$2b$04$"));
        let answers = ask(&[
            json!({"op": "verify", "password": password, "hash": hash}),
            json!({"op": "verify", "password": "wrong", "hash": hash}),
            json!({"op": "verify", "password": password, "hash": "not a hash"}),
        ]);
        let verified: Vec<_> = answers.iter().map(|a| a["verified"].clone()).collect();
        assert_eq!(verified, [json!(true), json!(false), json!(false)]);
    }

    #[test]
    fn bad_requests_get_an_error_line_and_serving_goes_on() {
        let answers = ask(&[
            json!({"op": "hash", "password": "x", "cost": 99}),
            json!({"op": "fly"}),
            json!("just a string"),
            json!({"op": "verify", "password": "x", "hash": "$2b$04$"}),
        ]);
        assert_eq!(answers.len(), 4);
        assert!(
            answers[..3].iter().all(|a| a["error"].is_string()),
            "{answers:?}"
        );
        assert_eq!(answers[3]["verified"], json!(false));
    }
}
