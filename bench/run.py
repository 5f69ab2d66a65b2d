#!/usr/bin/env python3
"""beefirst benchmark: measures the performance targets of the service against the physical
limits of this machine, in one bounded run on loopback, and prints a table (pass/fail).

Usage: bench/run [--quick]      (--quick: 5-second loads, for a smoke run)
Needs: PostgreSQL (started by .ci/pg-up), wrk and gnuplot (Debian packages; installed if missing),
pgbench (PostgreSQL's). Writes bench/out/ (raw results, the chart bench/out/latency.svg).
"""
import glob, json, os, re, resource, socket, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
QUICK = "--quick" in sys.argv
LOAD = 5 if QUICK else 15          # seconds per load phase
CORES = os.cpu_count() or 2
COST = 12
DB = "beefirst_bench"
PG = "postgres://postgres@127.0.0.1:5432"

def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, text=True, capture_output=True, **kw).stdout

def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024

def wrk(script, conns, seconds, path="/register", env=None, threads=2):
    e = dict(os.environ, **(env or {}))
    out = sh(["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{seconds}s", "--timeout", "20s",
              "-s", os.path.join(ROOT, "bench", script), f"http://{ADDR}{path}"], env=e)
    result = dict(kv.split("=") for kv in re.search(r"RESULT (.*)", out).group(1).split())
    pct = {float(p): float(ms) for p, ms in re.findall(r"PCT (\S+) (\S+)", out)}
    return {k: float(v) for k, v in result.items()}, pct

def http(method, path, body=None, token=None):
    req = urllib.request.Request(f"http://{ADDR}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token: req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")

def main():
    global ADDR
    os.makedirs(OUT, exist_ok=True)
    for tool, pkg in (("wrk", "wrk"), ("gnuplot", "gnuplot-nox")):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sh(f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {pkg}")
    pgbench = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))[-1]
    sh(os.path.join(ROOT, ".ci", "pg-up"))
    print("building release ...", flush=True)
    sh(["cargo", "build", "--release", "--locked", "--example", "bcrypt_ceiling"], cwd=ROOT)
    sh(["cargo", "build", "--release", "--locked"], cwd=ROOT)
    sh(f"psql -h 127.0.0.1 -U postgres -Xqc 'DROP DATABASE IF EXISTS {DB} WITH (FORCE)' -c 'CREATE DATABASE {DB}' postgres")
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))

    print(f"bcrypt ceiling: cost {COST} on {CORES} threads ...", flush=True)
    ceiling = float(sh([os.path.join(ROOT, "target/release/examples/bcrypt_ceiling"), str(COST), str(CORES), str(LOAD)]))

    env = dict(os.environ, DATABASE_URL=f"{PG}/{DB}", BIND_ADDR="127.0.0.1:0", BCRYPT_COST=str(COST),
               RATE_LIMIT_IP_PER_MINUTE="0", RATE_LIMIT_EMAIL_PER_HOUR="0", MAX_WRONG_CODES_PER_EMAIL_PER_DAY="0",
               LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR="0", REAPER_INTERVAL_SECONDS="3600")
    log = open(os.path.join(OUT, "service.log"), "w")
    started = time.perf_counter()
    proc = subprocess.Popen([os.path.join(ROOT, "target/release/beefirst")], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    first = proc.stdout.readline()
    startup_ms = (time.perf_counter() - started) * 1000
    ADDR = json.loads(first)["addr"]
    import threading
    lines = []
    threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True).start()
    try:
        results = run_phases(proc, ceiling, startup_ms, pgbench, lines)
    finally:
        proc.terminate(); proc.wait(timeout=15)
        log.write("".join(lines)); log.close()
    report(results)

def run_phases(proc, ceiling, startup_ms, pgbench, lines):
    time.sleep(1)
    r = {"startup_ms": startup_ms, "ceiling": ceiling, "idle_rss": rss_mib(proc.pid)}
    # An account and a token for GET /me.
    http("POST", "/register", {"email": "bench@example.com", "password": "correct horse"})
    code = next(re.search(r"code is (\d+)", l).group(1) for l in lines if '"mail"' in l)
    req = urllib.request.Request(f"http://{ADDR}/activate", method="POST", data=json.dumps({"code": code}).encode())
    import base64
    req.add_header("Authorization", "Basic " + base64.b64encode(b"bench@example.com:correct horse").decode())
    urllib.request.urlopen(req).read()
    token = http("POST", "/login", {"email": "bench@example.com", "password": "correct horse"})["access_token"]

    print("health alone ...", flush=True)
    _, r["health_alone"] = wrk("latency.lua", 4, LOAD, "/health")
    print("registrations at capacity (throughput) ...", flush=True)
    lane = CORES + 16
    reg, _ = wrk("register.lua", lane, LOAD)
    r["register_rps"] = reg["created"] / reg["seconds"]
    print("registrations at >= 2x capacity, with /health and /me alongside ...", flush=True)
    sat = subprocess.Popen(["wrk", "-t1", f"-c{4 * lane}", f"-d{2 * LOAD + 4}s", "--timeout", "20s", "-s",
                            os.path.join(ROOT, "bench", "register.lua"), f"http://{ADDR}/register"],
                           stdout=subprocess.PIPE, text=True, env=dict(os.environ, BACKOFF_MS="200"))
    time.sleep(2)
    _, r["health_loaded"] = wrk("latency.lua", 4, LOAD, "/health")
    _, r["me_loaded"] = wrk("latency.lua", 4, LOAD, "/me", env={"TOKEN": token, "WRK_PATH": "/me"})
    out = sat.communicate()[0]
    s = {k: float(v) for k, v in (kv.split("=") for kv in re.search(r"RESULT (.*)", out).group(1).split())}
    r["sat_offered"] = (s["created"] + s["shed"] + s["other"]) / s["seconds"] / max(r["register_rps"], 1e-9) 

    print("GET /me throughput vs pgbench ...", flush=True)
    me, _ = wrk("latency.lua", 8, LOAD, "/me", env={"TOKEN": token, "WRK_PATH": "/me"})
    r["me_rps"] = me["rps"]
    pg = sh([pgbench, "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", str(LOAD),
             "-D", f"token={token}", "-f", os.path.join(ROOT, "bench", "me.sql"), DB])
    r["pgbench_tps"] = float(re.search(r"tps = ([\d.]+)", pg).group(1))

    print("1,000 idle keep-alive connections ...", flush=True)
    host, port = ADDR.rsplit(":", 1)
    socks = []
    for _ in range(1000):
        s_ = socket.create_connection((host, int(port)))
        s_.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s_)
    for s_ in socks:
        s_.recv(4096)
    time.sleep(1)
    r["rss_1000"] = rss_mib(proc.pid)
    for s_ in socks: s_.close()

    print("registrations at 3x capacity ...", flush=True)
    before = rss_mib(proc.pid)
    mark = len(lines)
    three, _ = wrk("register.lua", 3 * lane, LOAD, env={"BACKOFF_MS": "0"})
    r["three"] = three
    r["rss_growth"] = rss_mib(proc.pid) - before
    shed_ms = [json.loads(l)["duration_ms"] for l in lines[mark:] if '"status":503' in l and '"request"' in l]
    r["shed_max_ms"] = max(shed_ms) if shed_ms else 0.0
    r["shed_count"] = len(shed_ms)
    return r

def report(r):
    rows = [
        ("1 register throughput vs bcrypt ceiling", f"{r['register_rps']:.2f}/s", f"{r['ceiling']:.2f}/s",
         r["register_rps"] / r["ceiling"], r["register_rps"] >= 0.95 * r["ceiling"], ">= 95 %"),
        ("2 /health p99 while register saturated", f"{r['health_loaded'][99]:.2f} ms", f"{r['health_alone'][99]:.2f} ms alone",
         None, r["health_loaded"][99] < 20, "< 20 ms"),
        ("2 /me p99 while register saturated", f"{r['me_loaded'][99]:.2f} ms", f"offered {r['sat_offered']:.1f}x capacity",
         None, r["me_loaded"][99] < 30 and r["sat_offered"] >= 2, "< 30 ms at >= 2x"),
        ("3 /me throughput vs pgbench (same SQL, 8 conns)", f"{r['me_rps']:.0f}/s", f"{r['pgbench_tps']:.0f}/s",
         r["me_rps"] / r["pgbench_tps"], r["me_rps"] >= 0.5 * r["pgbench_tps"], ">= 50 %"),
        ("4 RSS idle", f"{r['idle_rss']:.1f} MiB", "", None, r["idle_rss"] < 16, "< 16 MiB"),
        ("4 RSS with 1,000 idle keep-alive connections", f"{r['rss_1000']:.1f} MiB", "", None, r["rss_1000"] < 48, "< 48 MiB"),
        ("5 3x capacity: timeouts, other errors", f"{int(r['three']['timeouts'])}, {int(r['three']['other'])}",
         f"{int(r['three']['created'])} created, {r['shed_count']} shed", None,
         r["three"]["timeouts"] == 0 and r["three"]["other"] == 0, "0, 0"),
        ("5 3x capacity: slowest 503 overloaded (server)", f"{r['shed_max_ms']:.2f} ms", "", None, r["shed_max_ms"] < 10, "< 10 ms"),
        ("5 3x capacity: RSS growth", f"{r['rss_growth']:+.1f} MiB", "", None, r["rss_growth"] < 8, "< 8 MiB"),
        ("6 start-up to listening", f"{r['startup_ms']:.0f} ms", "", None, r["startup_ms"] < 200, "< 200 ms"),
    ]
    lines = ["| target | measured | reference | ratio | goal | result |", "|---|---|---|---|---|---|"]
    for name, measured, ref, ratio, ok, goal in rows:
        lines.append(f"| {name} | {measured} | {ref} | {'' if ratio is None else f'{ratio:.0%}'} | {goal} | {'PASS' if ok else 'FAIL'} |")
    table = "\n".join(lines)
    print("\n" + table)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(OUT, "latency.dat"), "w") as f:
        for p in sorted(r["health_alone"]):
            f.write(f"{p} {r['health_alone'][p]} {r['health_loaded'][p]} {r['me_loaded'][p]}\n")
    sh(["gnuplot", "-e", f"out='{OUT}/latency.svg'; data='{OUT}/latency.dat'", os.path.join(ROOT, "bench", "latency.gp")])
    print(f"\nchart: {OUT}/latency.svg")
    sys.exit(0 if all(row[4] for row in rows) else 1)

if __name__ == "__main__":
    main()
