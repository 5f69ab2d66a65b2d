"""The soak's measurements: a sample every 10 s, slopes, the check of every acknowledged write at
the end, and the report (bench/out/soak.json and a summary)."""
import json, os, re, subprocess, time

PG = "postgres://postgres@127.0.0.1:5432"


def psql(db, sql):
    return subprocess.run(["psql", f"{PG}/{db}", "-XAtqc", sql], text=True, capture_output=True).stdout.strip()


def sample(instances, ledger, since, db):
    """One row of the time series."""
    row = {"t": round(time.time() - since, 1)}
    for i, inst in enumerate(instances):
        pid = inst.proc.pid
        try:
            status = open(f"/proc/{pid}/status").read()
            row[f"rss_mib_{i}"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
            row[f"threads_{i}"] = int(re.search(r"Threads:\s+(\d+)", status).group(1))
            row[f"fds_{i}"] = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, AttributeError):
            pass  # down for a fault
    counts = psql(db, f"""SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}'),
                             (SELECT count(*) FROM outbox),
                             (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
                             (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens),
                             (SELECT count(*) FROM audit_events), (SELECT count(*) FROM rate_limits),
                             (SELECT count(*) FROM accounts)""")
    if counts:
        keys = ["pg_connections", "outbox", "webhooks_pending", "sessions", "refresh_tokens",
                "audit_events", "rate_limits", "accounts"]
        row.update(zip(keys, map(int, counts.split("|"))))
    with ledger.lock:
        window = sorted(ms for t, s, _, ms, _ in ledger.answers[-5000:] if t > time.time() - 10 and s)
    if window:
        row["p50_ms"] = window[len(window) // 2]
        row["p99_ms"] = window[int(0.99 * (len(window) - 1))]
        row["requests"] = len(window)
    return row


def slope_per_hour(series, key):
    """Least-squares slope of `key` over time, per hour (a leak is a slope)."""
    points = [(r["t"], r[key]) for r in series if key in r]
    if len(points) < 3:
        return None
    n = len(points)
    mt, mv = sum(t for t, _ in points) / n, sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / var * 3600 if var else 0.0


def account(ledger, client, db, settle=180):
    """Every acknowledged write against the database and the webhook receiver, once the outbox and
    the webhook queue are empty (at most `settle` seconds): a list of what is lost. Active
    accounts must sign in with their last acknowledged password (`mfa_required` counts: the
    password was right); disabled ones be disabled; deleted ones, and addresses an account moved
    away from, be gone."""
    lost = []
    deadline = time.time() + settle
    while psql(db, "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM webhook_deliveries "
                   "WHERE status = 'pending')") != "0":
        if time.time() > deadline:
            lost.append(f"mail or webhooks still queued after {settle} s")
            break
        time.sleep(1)
    rows = dict(line.split("|") for line in psql(db, "SELECT email, CASE WHEN disabled_at IS NULL "
                                                      "THEN status ELSE 'disabled' END FROM accounts").splitlines() if line)
    with ledger.lock:
        accounts, uncertain = dict(ledger.accounts), set(ledger.uncertain)
        expected, hooks = dict(ledger.expected), {k: len(v) for k, v in ledger.hooks.items()}
    for email, known in accounts.items():
        state = known.get("state")
        if email in uncertain or state is None:
            continue
        if state in ("deleted", "moved"):
            if email in rows:
                lost.append(f"{state}, acknowledged, still there: {email}")
        elif rows.get(email) != state:
            lost.append(f"{state}, acknowledged, found {rows.get(email)}: {email}")
        elif state == "active":
            status, _ = client.until_answered("POST", "/login", {"email": email, "password": known["password"]})
            if status != 200:
                lost.append(f"last acknowledged password refused ({status}): {email}")
    for (event, email), n in sorted(expected.items()):
        if email not in uncertain and hooks.get((event, email), 0) < n:
            lost.append(f"{n} {event} acknowledged, {hooks.get((event, email), 0)} delivered: {email}")
    return lost


def bad_answers(ledger):
    """Answers that break the rule: any 5xx but a 503 with Retry-After, and no answer at all."""
    return [(t, s) for t, s, retry, _, _ in ledger.answers if s == 0 or (s >= 500 and not (s == 503 and retry))]


def proxy_503s_outside_faults(ledger, faults, since, grace=120):
    """503s nginx made itself (an instance crashed, hung or refused: a 502 or 504 behind it) at a
    time no fault explains: they break the rule as any other 5xx would."""
    windows = [(f["at"], f["at"] + f["took"] + grace) for f in faults]
    return [t - since for t, s, _, _, by_proxy in ledger.answers
            if by_proxy and not any(a <= t - since <= b for a, b in windows)]


def report(args, series, faults, ledger, lost, since, out):
    per_minute = {}
    for t, s, _, _, _ in ledger.answers:
        m = int((t - since) // 60)
        ok, total = per_minute.get(m, (0, 0))
        per_minute[m] = (ok + (1 if 0 < s < 500 else 0), total + 1)
    # A fault's failures: those from its start until the next fault's, or two minutes at most.
    for i, fault in enumerate(faults):
        end = min(fault["at"] + 120, faults[i + 1]["at"] if i + 1 < len(faults) else float("inf"))
        failed = [t - since for t, s, _, _, _ in ledger.answers
                  if (s == 0 or s >= 500) and fault["at"] <= t - since < end]
        fault["requests_failed"] = len(failed)
        fault["healed_after_s"] = round(max(failed, default=fault["at"]) - fault["at"], 1)
        during = sorted(ms for t, s, _, ms, _ in ledger.answers if s and fault["at"] <= t - since < fault["at"] + 60)
        fault["p99_ms_first_minute"] = round(during[int(0.99 * (len(during) - 1))], 1) if during else None
    keys = [k for k in (series[-1] if series else {}) if k != "t"]
    slopes = {k: slope_per_hour(series, k) for k in keys}
    # Past the warm-up (pools and caches filling in the first minutes): the second half's slopes.
    late = series[len(series) // 2:]
    slopes_late = {k: slope_per_hour(late, k) for k in keys}
    result = {
        "minutes": args.minutes, "users": args.users, "rate": args.rate,
        "requests": len(ledger.answers), "bad_answers": len(bad_answers(ledger)),
        "answers_503": sum(1 for _, s, _, _, _ in ledger.answers if s == 503),
        "answers_503_by_proxy": sum(1 for *_, by_proxy in ledger.answers if by_proxy),
        "proxy_503s_outside_faults": len(proxy_503s_outside_faults(ledger, faults, since)),
        "actor_errors": ledger.errors[:20],
        "acknowledged": {event: sum(n for (e, _), n in ledger.expected.items() if e == event)
                         for event in sorted({e for e, _ in ledger.expected})},
        "lost": lost, "faults": faults,
        "availability_per_minute": {m: round(ok / total, 4) for m, (ok, total) in sorted(per_minute.items())},
        "slopes_per_hour": slopes, "slopes_per_hour_second_half": slopes_late, "series": series,
    }
    with open(os.path.join(out, "soak.json"), "w") as f:
        json.dump(result, f, indent=1)
    worst = min(result["availability_per_minute"].values(), default=1.0)
    print(f"soak: {args.minutes} min, {result['requests']} requests, {result['answers_503']} answered 503, "
          f"{result['bad_answers']} other 5xx or unanswered; lost: {len(lost)}; worst minute {worst:.2%}")
    print("  acknowledged: " + ", ".join(f"{n} {e}" for e, n in result["acknowledged"].items()))
    for fault in faults:
        print(f"  fault at {fault['at']} s: {fault['name']}: {fault['requests_failed']} requests failed, "
              f"healed after {fault['healed_after_s']} s, p99 of its first minute {fault['p99_ms_first_minute']} ms")
    for key in ("rss_mib_0", "rss_mib_1", "rss_mib_2", "threads_0", "fds_0", "pg_connections", "sessions",
                "refresh_tokens", "audit_events", "rate_limits"):
        if slopes.get(key) is not None and slopes_late.get(key) is not None:
            print(f"  slope {key}: {slopes[key]:+.1f} per hour, second half {slopes_late[key]:+.1f}")
    print(f"  503s made by nginx itself: {result['answers_503_by_proxy']}, "
          f"outside a fault's window: {result['proxy_503s_outside_faults']}")
    for line in ledger.errors[:20]:
        print(f"  ACTOR FAILED {line}")
    for line in lost[:20]:
        print(f"  LOST {line}")
