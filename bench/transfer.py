"""Target 13: moving users in and out (bench/run; BENCHMARKS.md "Moving users in and out").
`python3 bench/transfer.py` runs it alone (after `cargo build --release`).

100,000 accounts in the contract's NDJSON (a bcrypt hash each, some display names and roles;
made once, by reusing one real hash: an import never hashes) are imported into an empty
database, then exported, then imported again (every line skipped). Lines per second for each,
and the importer's peak RSS (from /proc: VmHWM), which must not grow with the file: it streams.
"""
import json, os, re, subprocess, sys, tempfile, time
import users as scale

USERS = 100_000
HASH = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"

def write_file(path, n):
    with open(path, "w") as f:
        for i in range(n):
            line = {"email": f"user{i}@import.bench", "password_hash": HASH, "created_at": "2020-01-02T03:04:05Z"}
            if i % 3 == 0:
                line["display_name"] = f"User {i}"
            if i % 1000 == 0:
                line["role"] = "admin"
            f.write(json.dumps(line) + "\n")

def timed(root, db_url, args, stdout=None):
    """(seconds, peak RSS MiB, stdout, stderr) of `beefirst ARGS`; stdout to the file `stdout` if
    given. Both go to files, never pipes: a reimport reports 100,000 lines on stderr, which would
    fill a pipe that nobody reads while this loop samples the memory."""
    env = dict(os.environ, DATABASE_URL=db_url)
    out_file = stdout or tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen([os.path.join(root, "target/release/beefirst"), *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024)
        except (FileNotFoundError, AttributeError):
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    err_file.seek(0)
    err = err_file.read()
    out = b""
    if stdout is None:
        out_file.seek(0)
        out = out_file.read()
    return elapsed, peak, out, err

def run(root, out_dir, db_url):
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        small, big = os.path.join(tmp, "small.ndjson"), os.path.join(tmp, "big.ndjson")
        write_file(small, USERS // 10)
        write_file(big, USERS)
        subprocess.run(["psql", db_url, "-XAtqc", "SELECT 1"], check=True, capture_output=True)
        # RSS of a tenth of the file, into a database of its own, as the flat-memory reference.
        _, rss_small, _, _ = timed(root, db_url, ["import", "--dry-run", small])
        seconds, rss, out, err = timed(root, db_url, ["import", big])
        assert out.decode().startswith(f"imported {USERS},"), (out, err[-500:])
        result["import"] = {"seconds": seconds, "per_second": USERS / seconds, "rss_mib": rss, "rss_tenth_mib": rss_small}
        export_path = os.path.join(tmp, "export.ndjson")
        with open(export_path, "wb") as f:
            seconds, rss, _, err = timed(root, db_url, ["export"], stdout=f)
        lines = sum(1 for _ in open(export_path))
        result["export"] = {"seconds": seconds, "per_second": lines / seconds, "rss_mib": rss, "lines": lines}
        seconds, rss, out, _ = timed(root, db_url, ["import", big])
        assert out.decode().startswith(f"imported 0, skipped {USERS}"), out
        result["reimport"] = {"seconds": seconds, "per_second": USERS / seconds}
    return result

def rows(r):
    i, e, again = r["import"], r["export"], r["reimport"]
    return [
        ("13 beefirst import, 100,000 accounts", f"{i['per_second']:,.0f} lines/s ({i['seconds']:.1f} s)",
         f"peak RSS {i['rss_mib']:.1f} MiB (a tenth of the file: {i['rss_tenth_mib']:.1f} MiB)", None,
         i["per_second"] >= 10_000 and i["rss_mib"] < i["rss_tenth_mib"] + 8, ">= 10,000/s, RSS flat"),
        ("13 beefirst import again (every line skipped)", f"{again['per_second']:,.0f} lines/s", "", None,
         again["per_second"] >= 10_000, ">= 10,000/s"),
        ("13 beefirst export", f"{e['per_second']:,.0f} lines/s ({e['lines']:,} lines)", f"peak RSS {e['rss_mib']:.1f} MiB",
         None, e["per_second"] >= 10_000, ">= 10,000/s"),
    ]

if __name__ == "__main__":
    scale.alone("beefirst_bench_transfer", run, rows)
