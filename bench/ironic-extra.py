#!/usr/bin/env python3
"""Ironic measurements that /work/shared/peers/ironic-bench.py does not make (stdlib only,
loopback only), so Ironic and Ingot are measured the same way:
  - optionally grow the node count to --grow-to (sequential creates, one keep-alive connection);
  - full list of every node with full detail (GET /v1/nodes/detail, following `next` pages of
    up to 1000, Ironic's maximum page size), --n-list times -> min/median;
  - GET /v1/nodes/{uuid} --n-read times (random nodes, keep-alive) -> p50/p99.
Usage: ironic-extra.py [--base http://127.0.0.1:6385] [--grow-to N] [--n-read 2000] [--n-list 5]
                       [--deadline 900] [--json FILE]
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse

HDR = {"X-OpenStack-Ironic-API-Version": "latest", "Content-Type": "application/json"}


def pct(s, p):
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:6385")
    ap.add_argument("--grow-to", type=int, default=0)
    ap.add_argument("--n-read", type=int, default=2000)
    ap.add_argument("--n-list", type=int, default=5)
    ap.add_argument("--deadline", type=float, default=900)
    ap.add_argument("--json")
    a = ap.parse_args()
    end = time.monotonic() + a.deadline
    u = urllib.parse.urlparse(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def req(method, path, body=None, expect=200):
        t = time.perf_counter()
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=HDR)
        r = conn.getresponse()
        data = r.read()
        dt = time.perf_counter() - t
        if r.status != expect:
            raise SystemExit(f"ironic-extra: {method} {path} -> HTTP {r.status}: {data[:300]!r}")
        return (json.loads(data) if data else None), dt

    def list_all(path):
        items, nxt, pages = [], path, 0
        while nxt:
            d, _ = req("GET", nxt)
            pages += 1
            items += d["nodes"]
            nxt = d.get("next")
            if nxt:
                p = urllib.parse.urlparse(nxt)
                nxt = p.path + "?" + p.query
        return items, pages

    res = {"base": a.base}
    uuids = [n["uuid"] for n in list_all("/v1/nodes?limit=1000&fields=uuid")[0]]
    if a.grow_to > len(uuids):
        n_new = a.grow_to - len(uuids)
        print(f"growing Ironic from {len(uuids)} to {a.grow_to} nodes (sequential)...", flush=True)
        tag = "g%d" % int(time.time())
        lat, t0 = [], time.perf_counter()
        for i in range(n_new):
            if time.monotonic() > end:
                raise SystemExit(f"ironic-extra: deadline {a.deadline}s exceeded while growing ({i} created)")
            d, dt = req("POST", "/v1/nodes", {"name": f"{tag}-{i}", "driver": "fake-hardware",
                                              "properties": {"cpus": 4, "memory_mb": 8192, "local_gb": 100}},
                        expect=201)
            lat.append(dt)
            uuids.append(d["uuid"])
        wall = time.perf_counter() - t0
        lat.sort()
        res["grow"] = {"n": n_new, "wall_s": wall, "rate_per_s": n_new / wall,
                       "p50_ms": pct(lat, .5) * 1e3, "p99_ms": pct(lat, .99) * 1e3}
        print(f"  created {n_new} in {wall:.1f}s ({n_new / wall:.1f}/s)", flush=True)

    times, count, pages = [], 0, 0
    for _ in range(a.n_list):
        t0 = time.perf_counter()
        items, pages = list_all("/v1/nodes/detail?limit=1000")
        times.append(time.perf_counter() - t0)
        count = len(items)
    res["list"] = {"machines": count, "pages": pages, "runs": a.n_list, "min_s": min(times),
                   "median_s": statistics.median(times), "max_s": max(times)}
    print(f"list all {count} nodes (detail, {pages} pages) x{a.n_list}: min {min(times):.3f}s "
          f"median {statistics.median(times):.3f}s", flush=True)

    rng, lat = random.Random(1), []
    for k in range(a.n_read):
        if k % 200 == 0 and time.monotonic() > end:
            raise SystemExit(f"ironic-extra: deadline {a.deadline}s exceeded while reading")
        n = rng.choice(uuids)
        d, dt = req("GET", f"/v1/nodes/{n}")
        if d.get("uuid") != n:
            raise SystemExit(f"ironic-extra: GET /v1/nodes/{n} returned {d.get('uuid')}")
        lat.append(dt)
    lat.sort()
    res["read"] = {"n": len(lat), "p50_ms": pct(lat, .5) * 1e3, "p99_ms": pct(lat, .99) * 1e3,
                   "max_ms": lat[-1] * 1e3, "mean_ms": statistics.fmean(lat) * 1e3}
    print(f"read one node x{a.n_read}: p50 {res['read']['p50_ms']:.2f}ms p99 {res['read']['p99_ms']:.2f}ms",
          flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=2, sort_keys=True)


if __name__ == "__main__":
    sys.exit(main())
