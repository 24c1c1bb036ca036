#!/usr/bin/env python3
"""Bounded benchmark of Ingot's MAAS 2.0 HTTP API (loopback only, stdlib only, Python 3.11).

Usage:
  ingot-bench.py --url http://127.0.0.1:PORT/MAAS --apikey CK:TK:TS [--json FILE] [options]

Phases (every request carries an OAuth 1.0 PLAINTEXT header; every response is checked and
anything unexpected stops the run with a non-zero exit):
  (a) create N_CREATE (1000) machines sequentially on one keep-alive HTTP/1.1 connection,
      commission=false (like ironic-bench.py's create) -> rate, p50, p99; then list them all.
  (b) grow to N_TOTAL (10,000) machines and make every one READY: the (a) machines through
      op=commission, the rest created with commission=true; each then gets its metadata token
      (op=get_token) and signals `status=OK` to /MAAS/metadata/2012-03-01/ signed with it.
      cpu_count 1..32 and memory 1024..65536 MiB vary, so allocation constraints matter.
  (c) GET /MAAS/api/2.0/machines/ (all N_TOTAL machines, one JSON array), N_LIST times -> min/median.
  (d) GET /MAAS/api/2.0/machines/{id}/ N_READ times (random ids, keep-alive) -> p50/p99.
  (e) allocate with constraints from ALLOC_CLIENTS (32) threads, one keep-alive connection each,
      until N_ALLOC allocations or no machine left -> allocations/s, p99; checks that no system_id
      is returned twice, that each reply satisfies its constraints, and (full list afterwards) that
      the number of machines in status 10 equals the number of successful allocations.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

API = "/api/2.0"
METADATA_SIGNAL = "/metadata/2012-03-01/?op=signal"
NEW, COMMISSIONING, READY, ALLOCATED = 0, 1, 4, 10


class BenchError(Exception):
    pass


def pct(sorted_lat, p):
    """Nearest-rank percentile, same formula as ironic-bench.py (lat[int(n*p)])."""
    if not sorted_lat:
        return float("nan")
    return sorted_lat[min(len(sorted_lat) - 1, int(len(sorted_lat) * p))]


def lat_summary(lat):
    s = sorted(lat)
    return {"n": len(s), "p50_ms": pct(s, 0.50) * 1e3, "p99_ms": pct(s, 0.99) * 1e3,
            "max_ms": (s[-1] * 1e3) if s else float("nan"),
            "mean_ms": (statistics.fmean(s) * 1e3) if s else float("nan")}


def oauth_header(creds):
    ck, tk, ts = creds
    q = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731
    return (f'OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", '
            f'oauth_consumer_key="{q(ck)}", oauth_token="{q(tk)}", oauth_signature="%26{q(ts)}", '
            f'oauth_nonce="{uuid.uuid4().hex}", oauth_timestamp="{int(time.time())}"')


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, what):
        if time.monotonic() > self.end:
            raise BenchError(f"deadline of {self.seconds:.0f}s exceeded during {what}")


class Client:
    """One keep-alive HTTP/1.1 connection. Counts connections the server closed on us."""

    def __init__(self, url, creds, timeout):
        u = urllib.parse.urlparse(url)
        if u.scheme != "http" or not u.hostname:
            raise BenchError(f"--url must be http://HOST:PORT/MAAS, got {url!r}")
        self.prefix = u.path.rstrip("/")
        self.creds = creds
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        self.server_closes = 0

    def request(self, method, path, form=None, creds=None, expect=(200,)):
        headers = {"Authorization": oauth_header(creds or self.creds), "Accept": "application/json"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t = time.perf_counter()
        try:
            self.conn.request(method, self.prefix + path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise BenchError(f"{method} {path}: {type(e).__name__}: {e}") from e
        dt = time.perf_counter() - t
        if r.will_close:
            self.server_closes += 1  # http.client reconnects by itself on the next request
        if r.status not in expect:
            raise BenchError(f"{method} {path} -> HTTP {r.status} (expected {expect}): {data[:400]!r}")
        return r.status, data, dt, r.getheader("Content-Type", "")

    def json(self, method, path, form=None, creds=None, expect=(200,)):
        st, data, dt, ctype = self.request(method, path, form, creds, expect)
        if st == 200:
            if "json" not in ctype:
                raise BenchError(f"{method} {path}: Content-Type {ctype!r}, expected application/json")
            try:
                return st, json.loads(data), dt
            except ValueError as e:
                raise BenchError(f"{method} {path}: invalid JSON ({e}): {data[:200]!r}") from e
        return st, None, dt


def need_machine(obj, what):
    if not isinstance(obj, dict) or not isinstance(obj.get("system_id"), str) or not obj["system_id"]:
        raise BenchError(f"{what}: reply is not a machine object with system_id: {str(obj)[:300]}")
    return obj


def machine_form(hostname, mac, cpu, mem, commission):
    return {"hostname": hostname, "architecture": "amd64/generic", "mac_addresses": mac,
            "power_type": "manual", "commission": "true" if commission else "false",
            "cpu_count": str(cpu), "memory": str(mem)}


def list_all(cl):
    t0 = time.perf_counter()
    st, data, dt, ctype = cl.request("GET", f"{API}/machines/")
    wall = time.perf_counter() - t0
    if "json" not in ctype:
        raise BenchError(f"GET machines/: Content-Type {ctype!r}")
    items = json.loads(data)
    if not isinstance(items, list):
        raise BenchError(f"GET machines/: expected a JSON array, got {type(items).__name__}")
    # The region's own host is listed too (controllers as machines: node_type 0, with the
    # workload annotation ingot_controller); the checks count the machines the benchmark made.
    items = [
        m for m in items
        if "ingot_controller" not in (m.get("workload_annotations") or {})
    ]
    return items, wall, len(data)


def status_counts(items):
    counts = {}
    for m in items:
        counts[m.get("status")] = counts.get(m.get("status"), 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: str(kv[0])))


def timed_lists(cl, n, expect_count, what):
    times, items, size = [], None, 0
    for _ in range(n):
        items, wall, size = list_all(cl)
        times.append(wall)
        if len(items) != expect_count:
            raise BenchError(f"{what}: list returned {len(items)} machines, expected {expect_count}")
    return {"machines": expect_count, "runs": n, "min_s": min(times),
            "median_s": statistics.median(times), "max_s": max(times), "bytes": size}, items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="http://127.0.0.1:PORT/MAAS")
    ap.add_argument("--apikey", required=True, help="consumer_key:token_key:token_secret")
    ap.add_argument("--n-create", type=int, default=1000)
    ap.add_argument("--n-total", type=int, default=10000)
    ap.add_argument("--ready-threads", type=int, default=4)
    ap.add_argument("--n-list", type=int, default=5)
    ap.add_argument("--n-read", type=int, default=2000)
    ap.add_argument("--alloc-clients", type=int, default=32)
    ap.add_argument("--n-alloc", type=int, default=2000)
    ap.add_argument("--alloc-client", help="the compiled allocation clients "
                    "(crates/ingot/examples/alloc_load.rs) instead of Python threads")
    ap.add_argument("--alloc-seconds", type=float, default=300,
                    help="stop starting allocations after this long (the figures stay valid)")
    ap.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    ap.add_argument("--deadline", type=float, default=1500, help="whole run, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument("--server-pid", type=int,
                    help="the server's PID: its resident memory (VmRSS, VmHWM) is read after each phase")
    ap.add_argument("--n-filter", type=int, default=200,
                    help="filtered lists (one hostname, five ids) timed in phase (f)")
    a = ap.parse_args()

    parts = a.apikey.strip().split(":")
    if len(parts) != 3 or not all(parts):
        raise BenchError("--apikey must be consumer_key:token_key:token_secret")
    creds = tuple(parts)
    if not (0 < a.n_create <= a.n_total <= 1 << 24):
        raise BenchError("need 0 < n_create <= n_total <= 16777216")
    dl = Deadline(a.deadline)
    rng = random.Random(a.seed)
    tag = "b%d" % int(time.time())
    mac_run = random.SystemRandom().randrange(1 << 16)  # unique per run: re-runs don't collide

    def mac(i):
        return "52:%02x:%02x:%02x:%02x:%02x" % (mac_run & 255, (i >> 24) & 255, (i >> 16) & 255,
                                                 (i >> 8) & 255, i & 255)

    def memory(phase):
        """The server's resident memory now and at its peak (kB from /proc), after `phase`."""
        if not a.server_pid:
            return
        try:
            with open(f"/proc/{a.server_pid}/status") as f:
                kv = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError as e:
            raise BenchError(f"--server-pid {a.server_pid}: {e}") from e
        rss, hwm = (int(kv[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))
        res.setdefault("memory_mb", {})[phase] = {"rss": rss, "peak": hwm}
        print(f"    server memory after {phase}: {rss} MB resident, {hwm} MB peak", flush=True)

    res = {"url": a.url, "params": {k: v for k, v in vars(a).items() if k not in ("apikey", "json")}}
    mk = lambda: Client(a.url, creds, a.timeout)  # noqa: E731
    cl = mk()

    # ---- (a) sequential create ---------------------------------------------------------------
    print(f"(a) create {a.n_create} machines sequentially (commission=false)...", flush=True)
    ids, lat = [], []
    t0 = time.perf_counter()
    for i in range(a.n_create):
        if i % 100 == 0:
            dl.check("create")
        _, m, dt = cl.json("POST", f"{API}/machines/",
                           machine_form(f"{tag}-{i}", mac(i), 4, 8192, False))
        lat.append(dt)
        need_machine(m, "create")
        if m.get("status") != NEW:
            raise BenchError(f"create commission=false: status {m.get('status')!r}, expected {NEW} (New)")
        ids.append(m["system_id"])
    wall = time.perf_counter() - t0
    if len(set(ids)) != len(ids):
        raise BenchError("create returned a system_id twice")
    res["create"] = {"n": a.n_create, "wall_s": wall, "rate_per_s": a.n_create / wall, **lat_summary(lat)}
    c = res["create"]
    print(f"    {a.n_create} in {wall:.2f}s = {c['rate_per_s']:.0f}/s; p50 {c['p50_ms']:.2f}ms "
          f"p99 {c['p99_ms']:.2f}ms", flush=True)
    res["list_small"], _ = timed_lists(cl, a.n_list, a.n_create, "list after (a)")
    ls = res["list_small"]
    print(f"    list {a.n_create}: min {ls['min_s']*1e3:.1f}ms median {ls['median_s']*1e3:.1f}ms "
          f"({ls['bytes']/1e6:.2f} MB)", flush=True)

    # ---- (b) grow to n_total and make all READY ----------------------------------------------
    print(f"(b) grow to {a.n_total} machines and commission them all to Ready "
          f"({a.ready_threads} threads)...", flush=True)
    specs = [(1 + rng.randrange(32), 1024 * (1 + rng.randrange(64))) for _ in range(a.n_total)]
    all_ids = ids + [None] * (a.n_total - a.n_create)
    stop = threading.Event()

    def make_ready(worker):
        w = mk()
        lat_sig = []
        for i in range(worker, a.n_total, a.ready_threads):
            if stop.is_set():
                return lat_sig, w.server_closes
            if i % 200 < a.ready_threads:
                dl.check("commissioning")
            if i < a.n_create:
                sid = all_ids[i]
                _, m, _ = w.json("POST", f"{API}/machines/{sid}/?op=commission", {})
                need_machine(m, "op=commission")
            else:
                cpu, mem = specs[i]
                _, m, _ = w.json("POST", f"{API}/machines/",
                                 machine_form(f"{tag}-{i}", mac(i), cpu, mem, True))
                need_machine(m, "create commission=true")
                sid = all_ids[i] = m["system_id"]
            if m.get("status") != COMMISSIONING:
                raise BenchError(f"{sid}: status {m.get('status')!r} after commission, expected {COMMISSIONING}")
            _, tok, _ = w.json("GET", f"{API}/machines/{sid}/?op=get_token")
            if not isinstance(tok, dict) or not all(isinstance(tok.get(k), str) and tok[k]
                                                    for k in ("consumer_key", "token_key", "token_secret")):
                raise BenchError(f"{sid}: op=get_token returned {str(tok)[:200]}")
            mcreds = (tok["consumer_key"], tok["token_key"], tok["token_secret"])
            _, _, dt, _ = w.request("POST", METADATA_SIGNAL, {"status": "OK"}, creds=mcreds)
            lat_sig.append(dt)
        return lat_sig, w.server_closes

    t0 = time.perf_counter()
    sig_lat, closes = [], cl.server_closes
    with cf.ThreadPoolExecutor(a.ready_threads) as ex:
        futs = [ex.submit(make_ready, k) for k in range(a.ready_threads)]
        try:
            for f in cf.as_completed(futs):
                l, c2 = f.result()
                sig_lat += l
                closes += c2
        except BaseException:
            stop.set()
            raise
    wall = time.perf_counter() - t0
    res["make_ready"] = {"n": a.n_total, "threads": a.ready_threads, "wall_s": wall,
                         "machines_per_s": a.n_total / wall, "signal": lat_summary(sig_lat)}
    print(f"    {a.n_total} machines Ready in {wall:.1f}s ({a.n_total/wall:.0f} machines/s, "
          f"3 requests each; signal p99 {res['make_ready']['signal']['p99_ms']:.2f}ms)", flush=True)
    memory("make_ready")

    # ---- (c) full list -----------------------------------------------------------------------
    dl.check("list")
    print(f"(c) list all {a.n_total} machines x{a.n_list}...", flush=True)
    res["list"], items = timed_lists(cl, a.n_list, a.n_total, "list after (b)")
    counts = status_counts(items)
    if counts != {READY: a.n_total}:
        raise BenchError(f"after (b) expected all {a.n_total} machines Ready (4), got status counts {counts}")
    by_id = {m["system_id"]: m for m in items}
    if set(by_id) != set(all_ids):
        raise BenchError("list does not hold exactly the machines created")
    ls = res["list"]
    print(f"    min {ls['min_s']*1e3:.1f}ms median {ls['median_s']*1e3:.1f}ms max {ls['max_s']*1e3:.1f}ms "
          f"({ls['bytes']/1e6:.2f} MB)", flush=True)
    del items
    memory("list")

    # ---- (d) single read ---------------------------------------------------------------------
    print(f"(d) read one machine x{a.n_read}...", flush=True)
    lat = []
    for k in range(a.n_read):
        if k % 200 == 0:
            dl.check("read")
        sid = rng.choice(all_ids)
        _, m, dt = cl.json("GET", f"{API}/machines/{sid}/")
        lat.append(dt)
        if need_machine(m, "read")["system_id"] != sid:
            raise BenchError(f"GET machines/{sid}/ returned {m['system_id']}")
    res["read"] = lat_summary(lat)
    r = res["read"]
    print(f"    p50 {r['p50_ms']:.3f}ms p99 {r['p99_ms']:.3f}ms max {r['max_ms']:.2f}ms", flush=True)

    # ---- (f) filtered lists ------------------------------------------------------------------
    print(f"(f) filtered lists x{a.n_filter}: one hostname, then five ids...", flush=True)
    lat_host, lat_ids = [], []
    for k in range(a.n_filter):
        if k % 50 == 0:
            dl.check("filter")
        i = rng.randrange(a.n_total)
        q = urllib.parse.urlencode({"hostname": f"{tag}-{i}"})
        _, got, dt = cl.json("GET", f"{API}/machines/?{q}")
        lat_host.append(dt)
        if [m.get("system_id") for m in got] != [all_ids[i]]:
            raise BenchError(f"hostname={tag}-{i}: got {[m.get('system_id') for m in got]}, expected [{all_ids[i]}]")
        want = set(rng.sample(all_ids, 5))
        q = urllib.parse.urlencode([("id", sid) for sid in sorted(want)])
        _, got, dt = cl.json("GET", f"{API}/machines/?{q}")
        lat_ids.append(dt)
        if {m.get("system_id") for m in got} != want or len(got) != 5:
            raise BenchError(f"id= five: got {[m.get('system_id') for m in got]}, expected {sorted(want)}")
    res["filter"] = {"hostname": lat_summary(lat_host), "ids5": lat_summary(lat_ids)}
    fh_, fi_ = res["filter"]["hostname"], res["filter"]["ids5"]
    print(f"    hostname= p50 {fh_['p50_ms']:.2f}ms p99 {fh_['p99_ms']:.2f}ms; "
          f"five id= p50 {fi_['p50_ms']:.2f}ms p99 {fi_['p99_ms']:.2f}ms", flush=True)

    # ---- (e) concurrent allocate -------------------------------------------------------------
    print(f"(e) allocate with {a.alloc_clients} concurrent clients, up to {a.n_alloc}...", flush=True)
    cpu_choices, mem_choices = (1, 2, 4, 8, 16), (1024, 2048, 4096, 8192, 16384)
    arch_choices = ("amd64", "amd64/generic")
    lock = threading.Lock()
    state = {"tickets": a.n_alloc, "ok": 0, "conflicts": 0, "exhausted": False, "time_bounded": False}
    alloc_end = time.monotonic() + a.alloc_seconds
    allocated = []  # (system_id, constraints) in reply order
    alloc_lat = []
    violations = []

    def allocator(worker):
        w = mk()
        wr = random.Random(a.seed * 1000 + worker)
        while True:
            with lock:
                if state["tickets"] <= 0 or state["exhausted"] or stop.is_set():
                    return w.server_closes
                if time.monotonic() > alloc_end:
                    state["time_bounded"] = True
                    return w.server_closes
                state["tickets"] -= 1
            if worker == 0:
                dl.check("allocate")
            form = {"cpu_count": str(wr.choice(cpu_choices)), "mem": str(wr.choice(mem_choices)),
                    "arch": wr.choice(arch_choices)}
            st, m, dt = w.json("POST", f"{API}/machines/?op=allocate", form, expect=(200, 409))
            if st == 409:
                # Nothing matches these constraints. Try once without them: 409 again means
                # no machine is left at all, and this client stops.
                st, m, dt2 = w.json("POST", f"{API}/machines/?op=allocate", {}, expect=(200, 409))
                with lock:
                    state["conflicts"] += 1
                    if st == 409:
                        state["exhausted"] = True
                        return w.server_closes
                form, dt = {}, dt2
            need_machine(m, "allocate")
            bad = []
            if m.get("status") != ALLOCATED:
                bad.append(f"status {m.get('status')!r}")
            if "cpu_count" in form and int(m.get("cpu_count") or 0) < int(form["cpu_count"]):
                bad.append(f"cpu_count {m.get('cpu_count')} < {form['cpu_count']}")
            if "mem" in form and int(m.get("memory") or 0) < int(form["mem"]):
                bad.append(f"memory {m.get('memory')} < {form['mem']}")
            if "arch" in form and not str(m.get("architecture", "")).startswith("amd64"):
                bad.append(f"architecture {m.get('architecture')!r}")
            with lock:
                state["ok"] += 1
                allocated.append(m["system_id"])
                alloc_lat.append(dt)
                if bad:
                    violations.append(f"{m['system_id']} for {form}: {', '.join(bad)}")

    t0 = time.perf_counter()
    rust = None
    if a.alloc_client:
        # The compiled clients (crates/ingot/examples/alloc_load.rs): the same requests and
        # checks, without the GIL; their figures replace the threads' below.
        out = subprocess.run([a.alloc_client, a.url, a.apikey, str(a.alloc_clients), str(a.n_alloc),
                              str(int(a.alloc_seconds)), str(a.seed)],
                             capture_output=True, text=True, timeout=a.alloc_seconds + 120)
        if out.returncode != 0:
            raise BenchError(f"{a.alloc_client} failed ({out.returncode}): {out.stdout[-2000:]} {out.stderr[-2000:]}")
        rust = json.loads(out.stdout)
        allocated, alloc_lat, violations = rust["allocated"], rust["latencies_s"], rust["violations"]
        state.update(ok=rust["ok"], conflicts=rust["conflicts_409"], exhausted=rust["exhausted"],
                     time_bounded=rust["time_bounded"])
    else:
        with cf.ThreadPoolExecutor(a.alloc_clients) as ex:
            futs = [ex.submit(allocator, k) for k in range(a.alloc_clients)]
            try:
                pending = set(futs)
                while pending:
                    done, pending = cf.wait(pending, timeout=15, return_when=cf.FIRST_EXCEPTION)
                    for f in done:
                        closes += f.result()
                    if pending:
                        print(f"    ... {state['ok']} allocations after {time.perf_counter() - t0:.0f}s", flush=True)
            except BaseException:
                stop.set()
                raise
    wall = rust["wall_s"] if rust else time.perf_counter() - t0
    seen, doubles = set(), []
    for sid in allocated:
        if sid in seen:
            doubles.append(sid)
        seen.add(sid)
    items, _, _ = list_all(cl)
    counts = status_counts(items)
    in_10 = {m["system_id"] for m in items if m.get("status") == ALLOCATED}
    res["allocate"] = {"clients": a.alloc_clients, "requested": a.n_alloc, "ok": state["ok"],
                       "conflicts_409": state["conflicts"], "exhausted": state["exhausted"],
                       "time_bounded": state["time_bounded"],
                       "wall_s": wall, "rate_per_s": state["ok"] / wall if wall else 0,
                       **lat_summary(alloc_lat),
                       "client": rust["client"] if rust else "Python threads",
                       "double_allocations": len(doubles),
                       "constraint_violations": len(violations),
                       "status10_after": len(in_10), "status_counts_after": counts,
                       "status10_matches": in_10 == seen and len(in_10) == state["ok"]}
    e = res["allocate"]
    print(f"    {e['ok']} allocations in {wall:.2f}s = {e['rate_per_s']:.0f}/s; p50 {e['p50_ms']:.2f}ms "
          f"p99 {e['p99_ms']:.2f}ms; 409s {e['conflicts_409']}; double allocations {len(doubles)}; "
          f"machines in status 10 afterwards {len(in_10)}", flush=True)
    if state["time_bounded"]:
        print(f"    (stopped after --alloc-seconds {a.alloc_seconds:.0f}: {e['ok']} of {a.n_alloc} done)", flush=True)
    res["server_closed_connections"] = closes
    memory("allocate")

    # ---- verdicts ----------------------------------------------------------------------------
    failures = []
    if doubles:
        failures.append(f"{len(doubles)} double allocations ({len(set(doubles))} machines), "
                        f"e.g. {sorted(set(doubles))[:5]}")
    if violations:
        failures.append(f"{len(violations)} allocations broke their constraints, e.g. {violations[:3]}")
    if not e["status10_matches"]:
        failures.append(f"{len(in_10)} machines in status 10 but {e['ok']} successful allocations "
                        f"of {len(seen)} distinct machines ({len(in_10 ^ seen)} machines in one set only)")
    if e["ok"] == 0:
        failures.append("no allocation succeeded")
    elif e["ok"] < a.n_alloc and counts.get(READY, 0) > 0 and e["exhausted"]:
        failures.append(f"allocate said 409 (none left) with {counts.get(READY)} machines still Ready")
    # The targets: the full list of 10,000 under 250 ms (25 us a machine at any size),
    # 1,000 allocations/s with 32 clients, region memory under 1 GiB.
    res["targets"] = {
        "list_full_under_25us_per_machine": res["list"]["median_s"] < 25e-6 * a.n_total,
        "allocate_1000_per_s": e["rate_per_s"] >= 1000,
        "read_p99_under_5ms": res["read"]["p99_ms"] < 5.0,
        "zero_double_allocations": not doubles,
    }
    if "memory_mb" in res:
        res["targets"]["memory_under_1GiB"] = max(v["peak"] for v in res["memory_mb"].values()) < 1024
    res["failures"] = failures

    print("\n== Ingot summary ==")
    print(f"create {a.n_create} sequential : {res['create']['rate_per_s']:8.0f}/s  "
          f"p50 {res['create']['p50_ms']:.2f}ms p99 {res['create']['p99_ms']:.2f}ms")
    print(f"list {a.n_create:>6} machines    : median {res['list_small']['median_s']*1e3:8.1f}ms "
          f"(min {res['list_small']['min_s']*1e3:.1f}ms)")
    print(f"list {a.n_total:>6} machines    : median {res['list']['median_s']*1e3:8.1f}ms "
          f"(min {res['list']['min_s']*1e3:.1f}ms)   target < {a.n_total * 0.025:.0f}ms: "
          f"{'MET' if res['targets']['list_full_under_25us_per_machine'] else 'MISSED'}")
    print(f"read one, p99             : {res['read']['p99_ms']:8.3f}ms (p50 {res['read']['p50_ms']:.3f}ms)"
          f"   target < 5ms: {'MET' if res['targets']['read_p99_under_5ms'] else 'MISSED'}")
    print(f"allocate x{a.alloc_clients} clients     : {e['rate_per_s']:8.0f}/s  p99 {e['p99_ms']:.2f}ms, "
          f"{e['ok']} ok, double allocations {len(doubles)}   target >= 1000/s: "
          f"{'MET' if res['targets']['allocate_1000_per_s'] else 'MISSED'}")
    print(f"filter hostname=, p99     : {fh_['p99_ms']:8.2f}ms; five id= p99 {fi_['p99_ms']:.2f}ms")
    if "memory_mb" in res:
        peak = max(v["peak"] for v in res["memory_mb"].values())
        print(f"server memory, peak       : {peak:8d} MB   target < 1024 MB: "
              f"{'MET' if res['targets']['memory_under_1GiB'] else 'MISSED'}")
    print(f"make Ready (3 req/machine): {res['make_ready']['machines_per_s']:8.0f} machines/s")
    if closes:
        print(f"note: the server closed {closes} keep-alive connections")
    for f in failures:
        print(f"FAIL: {f}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=2, sort_keys=True)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"ingot-bench: FAIL: {e}", file=sys.stderr)
        sys.exit(2)
