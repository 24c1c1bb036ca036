#!/usr/bin/env python3
"""Power monitoring at fleet scale: does `ingot serve` query every machine once per
`--power-poll-interval`, and what does that cost the region?

N machines (NEW, power_type webhook: MAAS's driver for a BMC behind an HTTP endpoint) all point
at one HTTP endpoint this script serves (Python's ThreadingHTTPServer on loopback: it answers
`{"status": "running"}` and notes which machine asked when). The region is started once with a
day-long interval to create the machines through the API, then again with the interval under
test; from then on, for one interval and a margin, every query is logged.

Figures (JSON on stdout): how long the first round took to reach every machine, how many were
queried within one interval of the first query, queries per second, the region's CPU seconds
per 1,000 queries and its peak memory, and how many machines the region records as on.

Run by bench/power-poll.sh (which builds the binary); the region is started and stopped by
this script, by its own PID.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "ingot_bench", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ingot-bench.py"))
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

API = "/api/2.0"


class Seen:
    def __init__(self):
        self.lock = threading.Lock()
        self.log = []  # (monotonic time, machine index)

    def note(self, i):
        with self.lock:
            self.log.append((time.monotonic(), i))

    def since(self, t0):
        with self.lock:
            return [(t, i) for t, i in self.log if t >= t0]


def webhook_server(seen):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "q" and parts[1].isdigit():
                seen.note(int(parts[1]))
            body = b'{"status": "running"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_region(a, interval, log):
    cmd = [a.ingot, "serve", "--data-dir", a.data_dir, "--listen", f"127.0.0.1:{a.port}",
           "--power-poll-interval", str(interval)]
    p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                         env={**os.environ, "INGOT_LOG": os.environ.get("INGOT_LOG", "warn")})
    for _ in range(300):
        try:
            ib.Client(f"http://127.0.0.1:{a.port}/MAAS", None, 2).conn.connect()
            return p
        except OSError:
            if p.poll() is not None:
                raise SystemExit(f"ingot serve exited: {open(log).read()[-2000:]}")
            time.sleep(0.1)
    raise SystemExit("ingot serve did not listen")


def stop(p):
    p.terminate()
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingot", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--key", required=True, help="consumer_key:token_key:token_secret")
    ap.add_argument("--port", type=int, default=5396)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--interval", type=int, default=300)
    ap.add_argument("--margin", type=int, default=30)
    ap.add_argument("--threads", type=int, default=8)
    a = ap.parse_args()
    creds = tuple(a.key.split(":"))
    seen = Seen()
    srv = webhook_server(seen)
    hook = f"http://127.0.0.1:{srv.server_address[1]}"
    url = f"http://127.0.0.1:{a.port}/MAAS"
    out = {"n": a.n, "interval_s": a.interval}

    # 1. The fleet, created through the API while the monitor waits a day.
    region = start_region(a, 86400, os.path.join(a.data_dir, "serve-create.log"))
    t = time.perf_counter()

    def create(worker):
        cl = ib.Client(url, creds, 30)
        for i in range(worker, a.n, a.threads):
            form = {"hostname": f"pp{i:06d}", "architecture": "amd64/generic",
                    "mac_addresses": f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:"
                                     f"{(i >> 8) & 255:02x}:{i & 255:02x}",
                    "commission": "false", "power_type": "webhook",
                    "power_parameters_power_on_uri": f"{hook}/on/{i}",
                    "power_parameters_power_off_uri": f"{hook}/off/{i}",
                    "power_parameters_power_query_uri": f"{hook}/q/{i}"}
            cl.json("POST", f"{API}/machines/", form)

    with ThreadPoolExecutor(a.threads) as ex:
        list(ex.map(create, range(a.threads)))
    out["create_per_s"] = round(a.n / (time.perf_counter() - t))
    print(f"created {a.n} machines at {out['create_per_s']}/s", file=sys.stderr)
    stop(region)

    # 2. The monitor at the interval under test.
    region = start_region(a, a.interval, os.path.join(a.data_dir, "serve-poll.log"))
    t0 = time.monotonic()
    cpu0 = cpu_secs(region.pid)
    time.sleep(a.interval + a.margin)
    cpu1 = cpu_secs(region.pid)
    t1 = time.monotonic()
    log = seen.since(t0)
    out["queries"] = len(log)
    out["queries_per_s"] = round(len(log) / (t1 - t0), 1)
    first = {}
    for t, i in log:
        first.setdefault(i, t)
    out["machines_queried"] = len(first)
    if log:
        start = log[0][0]
        within = {i for t, i in log if t <= start + a.interval}
        out["queried_within_one_interval"] = len(within)
        out["first_round_s"] = (round(max(first.values()) - start, 1)
                                if len(first) == a.n else None)
        counts = {}
        for _, i in log:
            counts[i] = counts.get(i, 0) + 1
        out["queried_twice_or_more"] = sum(1 for c in counts.values() if c > 1)
    out["region_cpu_s"] = round(cpu1 - cpu0, 1)
    out["region_cpu_ms_per_query"] = round((cpu1 - cpu0) * 1000 / max(len(log), 1), 3)
    out["region_peak_rss_mb"] = round(peak_rss_mb(region.pid))
    # What the region recorded: every machine seen on.
    cl = ib.Client(url, creds, 120)
    _, ms, _ = cl.json("GET", f"{API}/machines/")
    out["recorded_on"] = sum(1 for m in ms if m.get("power_state") == "on")
    stop(region)
    srv.shutdown()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
