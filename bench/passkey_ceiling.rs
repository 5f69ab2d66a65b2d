//! The CPU half of the passkey sign-in ceiling: how many assertions webauthn-rs verifies per
//! second (client data, authenticator data, the ES256 signature, flags, counter: what
//! `security::webauthn::RelyingParty::finish_sign_in` does for `POST /login/passkey`), timed on
//! one thread and multiplied by `threads` (the cores). The assertions come from the tests'
//! software authenticator; only the verification is timed.
//! `cargo run --release --example passkey_ceiling -- THREADS SECONDS` prints one number
//! (verifications per second). Used by bench/passkeys.py.

#[allow(dead_code)]
#[path = "../tests/api/passkeys/authenticator.rs"]
mod authenticator;

use beefirst::config::Config;
use beefirst::security::webauthn::{Assertion, RelyingParty};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let [threads, seconds] = args[..] else {
        eprintln!("usage: passkey_ceiling THREADS SECONDS");
        std::process::exit(2);
    };
    let config = Config::from_lookup(|_| None).expect("the default configuration");
    let party = RelyingParty::new(&config.passkeys).expect("a relying party");
    let mut key = authenticator::Authenticator::new();
    let started = party.start_registration([7; 16], "bench", "bench", Vec::new()).unwrap();
    let made = party.finish_registration(&key.create(&started.public_key), &started.state).unwrap();
    let mut stored = made.stored;
    let (mut verified, mut spent) = (0u64, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let options = party.start_sign_in().unwrap();
        let assertion = Assertion::parse(&key.get(&options.public_key)).unwrap();
        let timed = Instant::now();
        stored = party.finish_sign_in(&assertion, &options.state, &stored).expect("verified");
        spent += timed.elapsed();
        verified += 1;
    }
    println!("{:.1}", verified as f64 / spent.as_secs_f64() * threads as f64);
}
