//! Every bcrypt computation of the service runs in `HASH_THREADS` helper processes
//! (`beefirst --bcrypt-helper`, see [`helper`]), each single-threaded, in its own session and in
//! Linux's `SCHED_IDLE` class.
//!
//! Why processes: `SCHED_IDLE` ranks a thread only against the threads of its own scheduling
//! group. With `kernel.sched_autogroup_enabled=1` (the default on many distributions) every
//! session is a group of its own, so idle-class hashing threads inside the service's process
//! would still hold the CPU against PostgreSQL's group, and every `/health` or `/me` waits for its
//! database query behind bcrypt (p99 50–80 ms measured, see BENCHMARKS.md). In a session of their
//! own, whose autogroup they set to nice 19, the helpers yield to everyone, the database included
//! (p99 3–7 ms); without autogroup the result is the same. Alone on the machine, hashing still
//! gets all of the CPU.
//!
//! The helpers hold no lock another thread could wait for (an idle-class thread preempted inside a
//! lock would stall normal threads: priority inversion). The caller blocks on a pipe while its
//! helper works. A helper that dies is replaced on the next call, which is retried once.

pub mod helper;

use crate::domain::Password;
use crate::error::Error;
use serde_json::{Value, json};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Helpers found dead or failing and replaced since start (for `GET /metrics`).
static REPLACED: AtomicU64 = AtomicU64::new(0);

/// How many bcrypt helpers were found dead or failing, and replaced, since the process started.
pub fn helpers_replaced() -> u64 {
    REPLACED.load(Ordering::Relaxed)
}

/// How a presented password compares with a stored bcrypt hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong, or malformed.
    No,
    /// Right, in its normalized form.
    Yes,
    /// Right only exactly as typed, not normalized: an old hash, to be re-made from the
    /// normalized form.
    AsTyped,
}

/// A fixed-size pool of bcrypt helper processes.
pub struct Hasher {
    program: PathBuf,
    size: usize,
    slots: Mutex<Slots>,
    returned: Condvar,
}

struct Slots {
    idle: Vec<Helper>,
    /// Helpers alive, idle or in use; at most `size`.
    running: usize,
}

impl Hasher {
    /// Starts `size` helpers by running `program` (the `beefirst` binary) with
    /// [`helper::ARG`]. Errors: a helper could not be started.
    pub fn start(program: &Path, size: usize) -> Result<Hasher, Error> {
        let idle = (0..size)
            .map(|_| Helper::spawn(program))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| Error::Internal(format!("cannot start the bcrypt helpers: {e}")))?;
        Ok(Hasher {
            program: program.to_owned(),
            size,
            slots: Mutex::new(Slots {
                running: idle.len(),
                idle,
            }),
            returned: Condvar::new(),
        })
    }

    /// bcrypt hash of `password` at `cost`. Errors: bcrypt refused the cost, or no helper answered.
    pub fn hash(&self, password: &Password, cost: u32) -> Result<String, Error> {
        let answer =
            self.call(&json!({"op": "hash", "password": password.expose(), "cost": cost}))?;
        match answer["hash"].as_str() {
            Some(hash) => Ok(hash.to_owned()),
            None => Err(helper_error(&answer)),
        }
    }

    /// Checks `candidate` against `hash`: first its NFKC form (what every hash is made from now),
    /// then, only if that fails and the password as typed differs, the form as typed (hashes made
    /// before passwords were normalized). A malformed candidate (outside 8–72 bytes, or with NUL)
    /// still costs one verification, of a placeholder, so its answer takes as long as any other
    /// (no length oracle; cf. CVE-2025-22234); over-long passwords never reach bcrypt, which would
    /// silently compare only their first 72 bytes. Errors: no helper answered.
    pub fn verify(&self, candidate: &str, hash: &str) -> Result<Verified, Error> {
        let normalized = Password::parse_existing(candidate.to_owned()).ok();
        let password = normalized
            .as_ref()
            .map_or("placeholder for a malformed password", Password::expose);
        if self.verify_one(password, hash)? && normalized.is_some() {
            return Ok(Verified::Yes);
        }
        match Password::legacy_form(candidate) {
            Some(typed) if self.verify_one(typed.expose(), hash)? => Ok(Verified::AsTyped),
            _ => Ok(Verified::No),
        }
    }

    fn verify_one(&self, password: &str, hash: &str) -> Result<bool, Error> {
        let answer = self.call(&json!({"op": "verify", "password": password, "hash": hash}))?;
        answer["verified"]
            .as_bool()
            .ok_or_else(|| helper_error(&answer))
    }

    /// Sends `request` to an idle helper and returns its answer; a failed helper is replaced and
    /// the request tried once more on a fresh one.
    fn call(&self, request: &Value) -> Result<Value, Error> {
        let line = format!("{request}\n");
        let mut last_error = None;
        for _ in 0..2 {
            let mut helper = self.checkout()?;
            match helper.exchange(line.as_bytes()) {
                Ok(answer) => {
                    self.checkin(helper);
                    return Ok(answer);
                }
                Err(e) => {
                    replaced("bcrypt_helper_failed", json!({"error": e.to_string()}));
                    self.retire(helper);
                    last_error = Some(e);
                }
            }
        }
        let error = last_error.map(|e| e.to_string()).unwrap_or_default();
        Err(Error::Internal(format!(
            "no bcrypt helper answered: {error}"
        )))
    }

    /// An idle live helper, a new one if fewer than `size` are running, else waits for one.
    /// Helpers found dead (killed by an operator or the OOM killer) are reaped and replaced.
    fn checkout(&self) -> Result<Helper, Error> {
        let mut slots = self.lock();
        loop {
            if let Some(mut helper) = slots.idle.pop() {
                match helper.child.try_wait() {
                    Ok(None) => return Ok(helper),
                    status => {
                        let status = format!("{status:?}");
                        replaced("bcrypt_helper_exited", json!({"status": status}));
                        slots.running -= 1;
                        continue;
                    }
                }
            }
            if slots.running < self.size {
                slots.running += 1;
                drop(slots);
                return Helper::spawn(&self.program).map_err(|e| {
                    self.retire_slot();
                    Error::Internal(format!("cannot start a bcrypt helper: {e}"))
                });
            }
            slots = self
                .returned
                .wait(slots)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn checkin(&self, helper: Helper) {
        self.lock().idle.push(helper);
        self.returned.notify_one();
    }

    fn retire(&self, helper: Helper) {
        drop(helper);
        self.retire_slot();
    }

    fn retire_slot(&self) {
        self.lock().running -= 1;
        self.returned.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Logs why a helper is being replaced and counts it for `GET /metrics`.
fn replaced(event: &str, detail: Value) {
    crate::log::error(event, detail);
    REPLACED.fetch_add(1, Ordering::Relaxed);
}

fn helper_error(answer: &Value) -> Error {
    let reason = answer["error"]
        .as_str()
        .unwrap_or("an answer of the wrong shape");
    Error::Internal(format!("bcrypt helper: {reason}"))
}

/// One helper process and the two ends of its pipes.
struct Helper {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts a helper and waits for its [`helper::READY`] line (it has detached by then).
    fn spawn(program: &Path) -> io::Result<Helper> {
        let mut child = Command::new(program)
            .arg(helper::ARG)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the helper's pipes are missing"));
        };
        let mut helper = Helper {
            child,
            input,
            output: BufReader::new(output),
        };
        let mut first = String::new();
        helper.output.read_line(&mut first)?;
        if first.trim_end() != helper::READY {
            return Err(io::Error::other(format!(
                "the helper did not start (said {first:?})"
            )));
        }
        Ok(helper)
    }

    /// Writes one request line and reads one answer line.
    fn exchange(&mut self, line: &[u8]) -> io::Result<Value> {
        self.input.write_all(line)?;
        self.input.flush()?;
        let mut answer = String::new();
        if self.output.read_line(&mut answer)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the helper exited",
            ));
        }
        serde_json::from_str(&answer).map_err(io::Error::other)
    }
}

impl Drop for Helper {
    /// Stops the process and reaps it (no zombie is left behind).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
