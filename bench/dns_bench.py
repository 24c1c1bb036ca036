#!/usr/bin/env python3
"""Helper of bench/dns.sh (stdlib only): the API client that populates Ingot, the query files,
the answer comparison, the dnsperf runs with their server CPU, and the change-to-answer timings.

Every subcommand is run by bench/dns.sh inside the benchmark's network namespace; each prints
one JSON object (a line) on stdout and its progress on stderr.

  populate   --url U --key C:T:S --n N --threads K --out machines.json
  set-config --url U --key C:T:S NAME VALUE
  wait       --server IP NAME [--type A] [--want IP] [--timeout S]
  queries    --machines machines.json --out-auth F --out-fwd F --out-warm F --fwd-zone Z --n-fwd N
  compare    --machines machines.json --a IP --b IP [--sample N]
  perf       --label L --server IP --pid PID --file F [--secs S] [--clients C] [--threads T]
  idle       --pid PID [--secs S]
  change-ingot --url U --key C:T:S --machines machines.json --server IP [--times N]
  change-bind  --machines machines.json --server IP --dir D --forward F --reverse F --rndc-conf C
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import random
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

API = "/api/2.0"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


# ---------------------------------------------------------------------------------------------
# The API (OAuth 1.0 PLAINTEXT as bench/ingot-bench.py signs it)

def oauth_header(creds):
    ck, tk, ts = creds
    q = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731
    return (f'OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", '
            f'oauth_consumer_key="{q(ck)}", oauth_token="{q(tk)}", oauth_signature="%26{q(ts)}", '
            f'oauth_nonce="{uuid.uuid4().hex}", oauth_timestamp="{int(time.time())}"')


class Api:
    """One keep-alive connection per thread."""

    def __init__(self, url, key):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.prefix = u.hostname, u.port or 80, u.path.rstrip("/")
        self.creds = key.split(":")
        if len(self.creds) != 3:
            raise SystemExit("the API key is CONSUMER:TOKEN:SECRET")
        self.local = threading.local()

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return c

    def call(self, method, path, form=None, expect=(200,)):
        headers = {"Authorization": oauth_header(self.creds), "Accept": "application/json"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(3):
            c = self.conn()
            try:
                c.request(method, self.prefix + path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException) as e:
                c.close()
                self.local.c = None
                if attempt == 2:
                    raise SystemExit(f"{method} {path}: {type(e).__name__}: {e}")
        if r.status not in expect:
            raise SystemExit(f"{method} {path} -> HTTP {r.status}: {data[:500]!r}")
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data


def machine_ip(i):
    """The static address of machine i (0-based) in 10.90.0.0/16, from 10.90.1.1 on."""
    return f"10.90.{1 + i // 250}.{1 + i % 250}"


def subnet_of(ip, prefix):
    o = ip.split(".")
    return f"{o[0]}.{o[1]}.{o[2]}.0/24" if prefix == 24 else f"{o[0]}.{o[1]}.0.0/16"


def reverse_zone_of(ip, prefix):
    o = ip.split(".")
    return f"{o[2]}.{o[1]}.{o[0]}.in-addr.arpa" if prefix == 24 else f"{o[1]}.{o[0]}.in-addr.arpa"


def cmd_populate(a):
    api = Api(a.url, a.key)
    # The servers' own /24 (10.90.0.0/24: its clients are trusted) and one /24 per 250
    # machines; or a single /16.
    ips = ["10.90.0.1"] + [machine_ip(i) for i in range(a.n)]
    cidrs = sorted(set(subnet_of(ip, a.prefix) for ip in ips), key=lambda c: [int(x) for x in c.split("/")[0].split(".")])
    for cidr in cidrs:
        st, sub = api.call("POST", f"{API}/subnets/", {"cidr": cidr}, expect=(200, 201))
        if not isinstance(sub, dict) or sub.get("rdns_mode") is None:
            raise SystemExit(f"subnet {cidr}: {sub}")
    log(f"{len(cidrs)} subnet(s) {cidrs[0]} .. {cidrs[-1]}, rdns_mode {sub.get('rdns_mode')}")
    with open(a.zones_out, "w") as f:
        for z in sorted(set(reverse_zone_of(ip, a.prefix) for ip in ips)):
            f.write(z + "\n")
    out = [None] * a.n
    lat_create, lat_link = [], []
    lock = threading.Lock()
    done = [0]

    def one(i):
        host = f"m{i:05d}"
        mac = "52:54:%02x:%02x:%02x:%02x" % (0x90, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
        t = time.perf_counter()
        _, m = api.call("POST", f"{API}/machines/", {
            "hostname": host, "architecture": "amd64/generic", "mac_addresses": mac,
            "power_type": "manual", "commission": "false"})
        t1 = time.perf_counter()
        sid = m["system_id"]
        iface = m["interface_set"][0]["id"]
        ip = machine_ip(i)
        api.call("POST", f"{API}/nodes/{sid}/interfaces/{iface}/?op=link_subnet",
                 {"mode": "STATIC", "subnet": subnet_of(ip, a.prefix), "ip_address": ip})
        t2 = time.perf_counter()
        out[i] = {"sid": sid, "hostname": host, "ip": ip, "status": m.get("status")}
        with lock:
            lat_create.append(t1 - t)
            lat_link.append(t2 - t1)
            done[0] += 1
            if done[0] % 1000 == 0:
                log(f"  {done[0]} machines, {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(a.threads) as ex:
        for f in [ex.submit(one, i) for i in range(a.n)]:
            f.result()
    wall = time.perf_counter() - t0
    with open(a.out, "w") as f:
        json.dump(out, f)
    lat_create.sort()
    lat_link.sort()
    emit({"what": "populate", "machines": a.n, "threads": a.threads, "seconds": round(wall, 1),
          "machines_per_s": round(a.n / wall, 1),
          "create_p50_ms": round(lat_create[len(lat_create) // 2] * 1e3, 1),
          "link_p50_ms": round(lat_link[len(lat_link) // 2] * 1e3, 1),
          "first_status": out[0]["status"]})


def cmd_set_config(a):
    api = Api(a.url, a.key)
    api.call("POST", f"{API}/maas/?op=set_config", {"name": a.name, "value": a.value})
    emit({"what": "set_config", "name": a.name, "value": a.value})


# ---------------------------------------------------------------------------------------------
# DNS on the wire (enough to ask and read A and PTR answers)

TYPES = {"A": 1, "NS": 2, "SOA": 6, "PTR": 12, "AAAA": 28}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        if n == 0:
            if not jumped:
                end = off + 1
            return ".".join(labels).lower(), end
        labels.append(msg[off + 1:off + 1 + n].decode(errors="replace"))
        off += 1 + n
    raise ValueError("name loop")


def query(sock, server, name, qtype, timeout=0.5):
    """(rcode, sorted answers of qtype as text, aa) or None on a timeout."""
    qid = random.randint(0, 65535)
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)
    sock.settimeout(timeout)
    sock.sendto(pkt, (server, 53))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            msg, _ = sock.recvfrom(65535)
        except socket.timeout:
            return None
        if len(msg) < 12 or struct.unpack(">H", msg[:2])[0] != qid:
            continue
        flags, qd, an = struct.unpack(">HHH", msg[2:8])
        off = 12
        for _ in range(qd):
            _, off = read_name(msg, off)
            off += 4
        answers = []
        for _ in range(an):
            _, off = read_name(msg, off)
            t, _c, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rd = msg[off:off + rdlen]
            if t == TYPES[qtype] == 1:
                answers.append(socket.inet_ntoa(rd))
            elif t == TYPES[qtype] == 12:
                answers.append(read_name(msg, off)[0])
            off += rdlen
        return flags & 0xF, sorted(answers), bool(flags & 0x0400)


def ptr_name(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def rr_text(rr):
    """One record of the rack's zones (GET /MAAS/rack/dns, core::dns_zone::Rr) as a zone file line."""
    (t, d), = rr["data"].items()
    absn = lambda n: n if n.endswith(".") else n + "."  # noqa: E731
    if t == "Soa":
        rd = f"{absn(d['mname'])} {absn(d['rname'])} {d['serial']} {d['refresh']} {d['retry']} {d['expire']} {d['minimum']}"
    elif t in ("A", "Aaaa"):
        rd = d
    elif t in ("Ns", "Ptr", "Cname"):
        rd = absn(d)
    elif t == "Mx":
        rd = f"{d[0]} {absn(d[1])}"
    elif t == "Srv":
        rd = f"{d[0]} {d[1]} {d[2]} {absn(d[3])}"
    elif t == "Sshfp":
        rd = f"{d[0]} {d[1]} {d[2]}"
    elif t == "Txt":
        rd = '"' + d.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        raise SystemExit(f"record type {t} unknown here")
    return [absn(rr["owner"]), str(rr["ttl"]), "IN", t.upper(), rd]


def cmd_zonefiles(a):
    """The zones exactly as the rack serves them, from the region's rack endpoint (the rack's
    own bearer secret), written as zone files ZONE.zone; and whether AXFR gives the same."""
    secret = open(a.secret_file).read().strip()
    u = urllib.parse.urlparse(a.url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
    # What a rack does after every change: the whole of every zone, built by the region. Timed
    # five times (the change-to-answer time is the rack's poll plus this plus the swap).
    took = []
    for _ in range(5):
        t = time.perf_counter()
        c.request("GET", u.path.rstrip("/") + "/rack/dns", headers={"Authorization": f"Bearer {secret}"})
        r = c.getresponse()
        body = r.read()
        took.append(time.perf_counter() - t)
        if r.status != 200:
            raise SystemExit(f"GET rack/dns: HTTP {r.status}: {body[:300]!r}")
    dns = json.loads(body)
    zones = {}
    for z in dns["zones"]:
        recs = [rr_text(rr) for rr in z["records"]]
        write_zone(os.path.join(a.dir, z["origin"] + ".zone"), recs)
        zones[z["origin"]] = len(recs)
    with open(a.zones_out, "w") as f:
        for z in zones:
            f.write(z + "\n")
    # AXFR from the rack (dig, one try): the count of records it gets against the zone's.
    axfr = {}
    for z, n in zones.items():
        t = time.monotonic()
        p = subprocess.run(["dig", f"@{a.server}", z, "AXFR", "+onesoa", "+nocomments", "+nocmd", "+nostats",
                            "+tries=1", "+time=30"], capture_output=True, text=True)
        got = sum(1 for line in p.stdout.splitlines() if line and not line.startswith(";"))
        if got != n or p.returncode != 0:
            err = [line for line in p.stdout.splitlines() if line.startswith(";;")][:1]
            axfr[z] = {"records": n, "axfr_records": got, "dig_rc": p.returncode, "seconds": round(time.monotonic() - t, 1),
                       "error": err[0] if err else ""}
    emit({"what": "zones", "serial": dns["serial"], "rack_dns_get": summary(took), "rack_dns_bytes": len(body), "zones": len(zones), "records": sum(zones.values()),
          "maas_records": zones.get("maas"), "problems": dns.get("problems"),
          "axfr_ok": len(zones) - len(axfr), "axfr_failed": axfr})


def cmd_wait(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t = time.monotonic()
    last = None
    while time.monotonic() - t < a.timeout:
        last = query(s, a.server, a.name, a.type)
        if last and last[0] == 0 and last[1] and (a.want is None or last[1] == [a.want]):
            emit({"what": "wait", "name": a.name, "answer": last[1], "seconds": round(time.monotonic() - t, 2)})
            return
        time.sleep(0.1)
    raise SystemExit(f"{a.name} {a.type} @{a.server}: no answer {a.want or ''} within {a.timeout} s (last: {last})")


def cmd_queries(a):
    ms = json.load(open(a.machines))
    rnd = random.Random(16)
    with open(a.out_auth, "w") as f:
        for _ in range(a.lines):
            m = rnd.choice(ms)
            if rnd.random() < a.ptr_share:
                f.write(f"{ptr_name(m['ip'])} PTR\n")
            else:
                f.write(f"{m['hostname']}.maas A\n")
    with open(a.out_fwd, "w") as f:
        for _ in range(a.lines):
            f.write(f"h{rnd.randrange(a.n_fwd):05d}.{a.fwd_zone} A\n")
    with open(a.out_warm, "w") as f:
        for i in range(a.n_fwd):
            f.write(f"h{i:05d}.{a.fwd_zone} A\n")
    emit({"what": "queries", "lines": a.lines, "ptr_share": a.ptr_share, "fwd_names": a.n_fwd})


def cmd_compare(a):
    ms = json.load(open(a.machines))
    rnd = random.Random(7)
    sample = rnd.sample(ms, min(a.sample, len(ms)))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    diffs, checked = [], 0
    asks = []
    for m in sample:
        asks.append((f"{m['hostname']}.maas", "A", [m["ip"]]))
        asks.append((ptr_name(m["ip"]), "PTR", [f"{m['hostname']}.maas"]))
    asks.append(("nosuchname.maas", "A", None))
    asks.append((ptr_name("10.90.1.251"), "PTR", None))
    for name, t, want in asks:
        ra = query(s, a.a, name, t, 2)
        rb = query(s, a.b, name, t, 2)
        checked += 1
        same = ra is not None and rb is not None and ra[:2] == rb[:2]
        right = want is None or (ra is not None and ra[1] == want)
        if not same or not right:
            diffs.append({"name": name, "type": t, "want": want, a.a: ra, a.b: rb})
    emit({"what": "compare", "queries": checked, "differences": len(diffs), "examples": diffs[:5]})
    if diffs:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------
# dnsperf with the server's CPU

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def mem_kb(pid):
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def udp_errors():
    """This namespace's UDP receive-buffer overflows (datagrams dropped by a full socket)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))["RcvbufErrors"])


def parse_dnsperf(text):
    def num(pat, cast=float):
        m = re.search(pat, text)
        return cast(m.group(1)) if m else None
    codes = dict((k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+) \(", (re.search(r"Response codes:\s*(.*)", text) or [None, ""])[1]))
    return {"sent": num(r"Queries sent:\s*(\d+)", int), "completed": num(r"Queries completed:\s*(\d+)", int),
            "lost": num(r"Queries lost:\s*(\d+)", int), "qps": num(r"Queries per second:\s*([\d.]+)"),
            "latency_ms": (num(r"Average Latency \(s\):\s*([\d.]+)") or 0) * 1e3, "rcodes": codes}


def dnsperf(a, server, file, rate=None, once=False, profile=None):
    cmd = ["dnsperf", "-s", server, "-d", file, "-c", str(a.clients), "-T", str(a.threads), "-q", str(a.outstanding)]
    cmd += ["-n", "1"] if once else ["-l", str(a.secs)]
    if rate:
        cmd += ["-Q", str(int(rate))]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    up0 = cpu_ticks(a.upstream_pid) if a.upstream_pid else 0
    prof = None
    if profile:
        # perf samples the server's stacks over the middle of the run (it costs CPU itself).
        prof = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(a.pid), "-o", profile + ".data",
                                 "--", "sleep", str(max(1, a.secs - 4))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c0, t0, u0 = cpu_ticks(a.pid), time.monotonic(), udp_errors()
    p = subprocess.run(cmd, capture_output=True, text=True)
    c1, t1, u1 = cpu_ticks(a.pid), time.monotonic(), udp_errors()
    up1 = cpu_ticks(a.upstream_pid) if a.upstream_pid else 0
    if prof:
        prof.wait()
        with open(profile + ".txt", "w") as f:
            subprocess.run(["perf", "report", "-i", profile + ".data", "--stdio", "--no-children", "--percent-limit", "0.5",
                            "-g", "none", "--sort", "symbol"], stdout=f, stderr=subprocess.DEVNULL)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stdout}{p.stderr}")
    r = parse_dnsperf(p.stdout)
    cpu_s = (c1 - c0) / CLK_TCK
    client_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    r.update({"rate_limit": rate, "wall_s": round(t1 - t0, 2), "server_cpu_s": round(cpu_s, 2),
              "server_cpu_share": round(cpu_s / (t1 - t0), 2), "dnsperf_cpu_s": round(client_s, 2),
              "cpu_us_per_query": round(cpu_s * 1e6 / r["completed"], 1) if r["completed"] else None,
              "loss_pct": round(100.0 * r["lost"] / r["sent"], 3) if r["sent"] else None,
              "udp_rcvbuf_drops": u1 - u0, "loadavg_after": open("/proc/loadavg").read().split()[0], "cmd": " ".join(cmd), "profiled": bool(profile)})
    if a.upstream_pid:
        r["upstream_cpu_share"] = round((up1 - up0) / CLK_TCK / (t1 - t0), 3)
    noerror = r["rcodes"].get("NOERROR", 0)
    r["noerror_pct"] = round(100.0 * noerror / r["completed"], 2) if r["completed"] else 0
    return r


def cmd_perf(a):
    if a.warm:
        w = dnsperf(a, a.server, a.warm, once=True)
        log(f"  [{a.label}] warm-up pass over {a.warm}: {w['completed']} answered, {w['lost']} lost, rcodes {w['rcodes']}")
    runs = []
    rate = None
    if a.profile:
        r = dnsperf(a, a.server, a.file, profile=a.profile)
        log(f"  [{a.label}] profiled run (not counted): {r['qps']:.0f} qps, {r['cpu_us_per_query']} us CPU/query; {a.profile}.txt")
    for _ in range(a.max_tries):
        r = dnsperf(a, a.server, a.file, rate)
        runs.append(r)
        log(f"  [{a.label}] -Q {rate or 'none'}: {r['qps']:.0f} qps, lost {r['lost']} ({r['loss_pct']} %), "
            f"{r['cpu_us_per_query']} us CPU/query (server {r['server_cpu_share']} cores, dnsperf {r['dnsperf_cpu_s']} s CPU), "
            f"rcodes {r['rcodes']}, UDP receive-buffer drops {r['udp_rcvbuf_drops']}"
            + (f", upstream busy {r['upstream_cpu_share']} cores" if a.upstream_pid else ""))
        if r["loss_pct"] is not None and r["loss_pct"] < 0.1:
            break
        rate = 0.9 * (r["qps"] if rate is None else min(rate, r["qps"]))
    final = runs[-1]
    rss, hwm = mem_kb(a.pid)
    emit({"what": "perf", "label": a.label, "server": a.server, "pid": a.pid, "threads": threads_of(a.pid),
          "qps": final["qps"], "loss_pct": final["loss_pct"], "cpu_us_per_query": final["cpu_us_per_query"],
          "server_cpu_share": final["server_cpu_share"],
          "dnsperf_cpu_share": round(final["dnsperf_cpu_s"] / final["wall_s"], 2), "latency_ms": round(final["latency_ms"], 3),
          "upstream_cpu_share": final.get("upstream_cpu_share"),
          "noerror_pct": final["noerror_pct"], "rcodes": final["rcodes"], "rate_limit": final["rate_limit"],
          "met_loss": final["loss_pct"] is not None and final["loss_pct"] < 0.1,
          "rss_mb": round(rss / 1024, 1), "hwm_mb": round(hwm / 1024, 1), "tries": runs})


def cmd_idle(a):
    c0 = cpu_ticks(a.pid)
    time.sleep(a.secs)
    c1 = cpu_ticks(a.pid)
    rss, hwm = mem_kb(a.pid)
    emit({"what": "idle", "label": a.label, "pid": a.pid, "secs": a.secs,
          "cpu_ms_per_s": round((c1 - c0) / CLK_TCK * 1e3 / a.secs, 1), "threads": threads_of(a.pid),
          "rss_mb": round(rss / 1024, 1), "hwm_mb": round(hwm / 1024, 1)})


# ---------------------------------------------------------------------------------------------
# Change → answer

def poll_until(sock, server, name, want, timeout=10.0, every=0.010):
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < timeout:
        n += 1
        r = query(sock, server, name, "A", 0.2)
        if r and r[0] == 0 and r[1] == [want]:
            return time.perf_counter(), n
        time.sleep(every)
    return None, n


def summary(xs):
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": round(statistics.median(xs) * 1e3, 1), "max_ms": round(xs[-1] * 1e3, 1),
            "min_ms": round(xs[0] * 1e3, 1)}


def cmd_change_ingot(a):
    api = Api(a.url, a.key)
    ms = json.load(open(a.machines))
    rnd = random.Random(99)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    from_resp, from_req, http_ms, fails = [], [], [], []
    for k in range(a.times):
        m = ms[rnd.randrange(len(ms))]
        new = f"renamed-{k:02d}-{m['hostname']}"
        t0 = time.perf_counter()
        api.call("PUT", f"{API}/machines/{m['sid']}/", {"hostname": new})
        t1 = time.perf_counter()
        t2, n = poll_until(s, a.server, f"{new}.maas", m["ip"])
        if t2 is None:
            fails.append(new)
            log(f"  rename {m['hostname']} -> {new}: no answer within 10 s")
            continue
        old = query(s, a.server, f"{m['hostname']}.maas", "A", 1)
        ptr = query(s, a.server, ptr_name(m["ip"]), "PTR", 1)
        if not old or old[0] != 3 or not ptr or ptr[1] != [f"{new}.maas"]:
            fails.append(f"{new}: old name {old}, PTR {ptr}")
        from_resp.append(t2 - t1)
        from_req.append(t2 - t0)
        http_ms.append(t1 - t0)
        log(f"  rename {k + 1}: HTTP {1e3 * (t1 - t0):.0f} ms, answer {1e3 * (t2 - t1):.0f} ms after the response ({n} queries)")
        m["hostname"] = new
        time.sleep(rnd.uniform(0.05, 0.3))  # not in phase with the rack's 250 ms poll
    with open(a.machines, "w") as f:
        json.dump(ms, f)
    emit({"what": "change", "label": "ingot", "from_response": summary(from_resp), "from_request": summary(from_req),
          "http": summary(http_ms), "failures": fails})
    if fails:
        sys.exit(1)


def read_zone(path):
    """The records of a `dig AXFR` dump: [owner, ttl, class, type, rdata]."""
    recs = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        p = line.split(None, 4)
        recs.append(p)
    return recs


def write_zone(path, recs):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for r in recs:
            f.write("\t".join(r) + "\n")
    os.rename(tmp, path)


def bump_serial(recs):
    for r in recs:
        if r[3] == "SOA":
            p = r[4].split()
            p[2] = str(int(p[2]) + 1)
            r[4] = " ".join(p)
            return


def cmd_change_bind(a):
    """What MAAS does on a change: write the zone files anew (serial + 1) and `rndc reload`."""
    ms = json.load(open(a.machines))
    rnd = random.Random(98)
    fwd = read_zone(os.path.join(a.dir, a.forward_zone + ".zone"))
    fwd_by_owner = {r[0]: r for r in fwd if r[3] == "A"}
    revs = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rndc = ["rndc", "-c", a.rndc_conf]
    total, write_ms, rndc_ms, fails = [], [], [], []
    for k in range(a.times):
        m = ms[rnd.randrange(len(ms))]
        old = f"{m['hostname']}.maas."
        new = f"bind-{k:02d}-{m['hostname']}"
        if old not in fwd_by_owner:
            raise SystemExit(f"{old} is not in the {a.forward_zone} zone file")
        rz = reverse_zone_of(m["ip"], a.prefix)
        if rz not in revs:
            revs[rz] = read_zone(os.path.join(a.dir, rz + ".zone"))
        rev = revs[rz]
        t0 = time.perf_counter()
        r = fwd_by_owner.pop(old)
        r[0] = f"{new}.maas."
        fwd_by_owner[r[0]] = r
        ptrs = [x for x in rev if x[3] == "PTR" and x[0] == ptr_name(m["ip"]) + "."]
        if len(ptrs) != 1:
            raise SystemExit(f"{ptr_name(m['ip'])}: {len(ptrs)} PTR records in {rz}")
        ptrs[0][4] = f"{new}.maas."
        bump_serial(fwd)
        bump_serial(rev)
        write_zone(os.path.join(a.dir, a.forward_zone + ".zone"), fwd)
        write_zone(os.path.join(a.dir, rz + ".zone"), rev)
        t1 = time.perf_counter()
        for z in (a.forward_zone, rz):
            p = subprocess.run(rndc + ["reload", z], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"rndc reload {z}: {p.stdout}{p.stderr}")
        t2 = time.perf_counter()
        t3, n = poll_until(s, a.server, f"{new}.maas", m["ip"])
        if t3 is None:
            fails.append(new)
            log(f"  bind rename {k + 1}: no answer within 10 s")
            continue
        total.append(t3 - t0)
        write_ms.append(t1 - t0)
        rndc_ms.append(t2 - t1)
        log(f"  bind rename {k + 1}: files {1e3 * (t1 - t0):.0f} ms, rndc {1e3 * (t2 - t1):.0f} ms, answer {1e3 * (t3 - t0):.0f} ms after the write began ({n} queries)")
        m["hostname"] = new
        time.sleep(rnd.uniform(0.05, 0.3))
    emit({"what": "change", "label": "bind", "from_write": summary(total), "write_files": summary(write_ms),
          "rndc": summary(rndc_ms), "failures": fails})
    if fails:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("populate")
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--prefix", type=int, choices=(16, 24), default=24)
    p.add_argument("--out", required=True)
    p.add_argument("--zones-out", required=True, help="the reverse zones' origins, one a line")
    p.set_defaults(f=cmd_populate)
    p = sub.add_parser("set-config")
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("name")
    p.add_argument("value")
    p.set_defaults(f=cmd_set_config)
    p = sub.add_parser("zonefiles")
    p.add_argument("--url", required=True)
    p.add_argument("--secret-file", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--zones-out", required=True)
    p.set_defaults(f=cmd_zonefiles)
    p = sub.add_parser("wait")
    p.add_argument("--server", required=True)
    p.add_argument("--type", default="A")
    p.add_argument("--want")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("name")
    p.set_defaults(f=cmd_wait)
    p = sub.add_parser("queries")
    p.add_argument("--machines", required=True)
    p.add_argument("--out-auth", required=True)
    p.add_argument("--out-fwd", required=True)
    p.add_argument("--out-warm", required=True)
    p.add_argument("--fwd-zone", default="example.test")
    p.add_argument("--n-fwd", type=int, default=10000)
    p.add_argument("--lines", type=int, default=200000)
    p.add_argument("--ptr-share", type=float, default=0.25)
    p.set_defaults(f=cmd_queries)
    p = sub.add_parser("compare")
    p.add_argument("--machines", required=True)
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--sample", type=int, default=300)
    p.set_defaults(f=cmd_compare)
    p = sub.add_parser("perf")
    p.add_argument("--label", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--warm")
    p.add_argument("--secs", type=int, default=15)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outstanding", type=int, default=100)  # dnsperf's own default
    p.add_argument("--max-tries", type=int, default=8)
    p.add_argument("--upstream-pid", type=int, help="also the CPU of this process (the upstream) per run")
    p.add_argument("--profile", help="first a run under `perf record -g` of the server: PREFIX.data, PREFIX.txt")
    p.set_defaults(f=cmd_perf)
    p = sub.add_parser("idle")
    p.add_argument("--label", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--secs", type=float, default=5)
    p.set_defaults(f=cmd_idle)
    p = sub.add_parser("change-ingot")
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--machines", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--times", type=int, default=20)
    p.set_defaults(f=cmd_change_ingot)
    p = sub.add_parser("change-bind")
    p.add_argument("--machines", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--dir", required=True, help="the peer's zone files, ZONE.zone")
    p.add_argument("--forward-zone", default="maas")
    p.add_argument("--prefix", type=int, choices=(16, 24), default=24)
    p.add_argument("--rndc-conf", required=True)
    p.add_argument("--times", type=int, default=20)
    p.set_defaults(f=cmd_change_bind)
    a = ap.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
