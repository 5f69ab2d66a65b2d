//! The bcrypt ceiling: how many hashes per second this machine can do with the crate and cost the
//! service uses, on `threads` threads. `cargo run --release --example bcrypt_ceiling -- COST THREADS SECONDS`
//! prints one number (hashes per second). Used by bench/run.py.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (cost, threads, seconds) = match args[..] {
        [cost, threads, seconds] => (cost as u32, threads, seconds),
        _ => {
            eprintln!("usage: bcrypt_ceiling COST THREADS SECONDS");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = bcrypt::hash("correct horse battery staple", cost);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{:.3}", done.load(Ordering::Relaxed) as f64 / elapsed);
}
