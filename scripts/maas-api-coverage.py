#!/usr/bin/env python3
"""Coverage of MAAS's API 2.0 (handlers and ops) by Ingot, as a markdown table.

MAAS's list is a TSV (scripts/maas-api-ops.tsv: handler_path, handler_class, method, op,
note; one row per action). Ingot's list is its describe document: a saved file
(--describe FILE), a running region (--url .../MAAS/api/2.0/describe/), or the route table
source itself (--route-table crates/api/src/route_table.rs). Paths are compared by shape:
the /MAAS/api/2.0/ prefix and the trailing slash are dropped and every {parameter} is a
wildcard, so MAAS's {system_id} matches Ingot's {id}.

    scripts/maas-api-coverage.py --url http://127.0.0.1:5240/MAAS/api/2.0/describe/
    scripts/maas-api-coverage.py --describe describe.json --notes notes.tsv
    scripts/maas-api-coverage.py --route-table crates/api/src/route_table.rs

scripts/maas-api-ops.tsv was transcribed from canonical/maas: the routes of
src/maasserver/urls_api.py (the 3.6/3.7 layout, with reservedips/ and images-sync-progress/)
and the handlers of src/maasserver/api/*.py, with the exports worked out as MAAS's
OperationsHandlerType does (CRUD methods not set to None, @operation methods of the class
and of its direct bases). Hidden handlers (not in MAAS's describe) and operations only an
anonymous caller gets are marked in the note column and counted apart.

--notes FILE is a TSV (path, method, op, status, reason; '#' starts a comment) giving a
status other than "not served" to MAAS actions Ingot does not describe, e.g.
"answered as MAAS does unconfigured", with the reason shown in the table.

Standard library only.
"""

import argparse
import collections
import difflib
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request
import uuid

API_PREFIX = "/MAAS/api/2.0/"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TSV = os.path.join(HERE, "maas-api-ops.tsv")
CRUD_NAMES = {"GET": "read", "POST": "create", "PUT": "update", "DELETE": "delete"}
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}


def shape(path):
    """A path's shape: no scheme/host, no API prefix, no trailing slash, {} per parameter."""
    path = urllib.parse.urlsplit(path).path if "://" in path else path
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX):]
    path = path.strip("/")
    return re.sub(r"\{[^}/]*\}", "{}", path)


def norm_op(op):
    return op if op else None


# ------------------------------------------------------------------ MAAS's list


class MaasRow:
    def __init__(self, path, handler, method, op, note):
        self.path = path
        self.handler = handler
        self.method = method.upper()
        self.op = norm_op(op)
        self.note = note
        self.aliases = []
        m = re.search(r"alias: ([^;]+)", note)
        if m:
            self.aliases = m.group(1).split()
        self.hidden = note.startswith("hidden") or "hidden:" in note
        self.anon_only = "anonymous only" in note

    @property
    def shapes(self):
        return [shape(self.path)] + [shape(a) for a in self.aliases]

    @property
    def kind(self):
        if self.hidden:
            return "hidden"
        if self.anon_only:
            return "anon-only"
        return "describe"

    def label(self):
        return self.op if self.op else "(%s)" % CRUD_NAMES[self.method]


def read_maas(tsv):
    rows = []
    with open(tsv, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        want = ["handler_path", "handler_class", "method", "op", "note"]
        if header[:5] != want:
            sys.exit("%s: expected columns %s, got %s" % (tsv, want, header))
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = (line.split("\t") + [""] * 5)[:5]
            if cols[2].upper() not in METHOD_ORDER:
                sys.exit("%s:%d: bad method %r" % (tsv, n, cols[2]))
            rows.append(MaasRow(*cols))
    return rows


# ------------------------------------------------------------------ Ingot's list


class IngotAction:
    def __init__(self, path, handler, method, op, anon):
        self.path = path
        self.shape = shape(path)
        self.handler = handler
        self.method = method.upper()
        self.op = norm_op(op)
        self.anon = anon

    def key(self):
        return (self.shape, self.method, self.op)

    def label(self):
        return self.op if self.op else "(%s)" % CRUD_NAMES.get(self.method, self.method)


def actions_from_describe(doc):
    """Every action of every handler (auth and anon) in a describe document."""
    handlers = []
    if doc.get("resources"):
        for res in doc["resources"]:
            for side in ("auth", "anon"):
                h = res.get(side)
                if h:
                    handlers.append((h, side == "anon"))
    else:
        handlers = [(h, False) for h in doc.get("handlers", [])]
    out = []
    for h, anon in handlers:
        path = h.get("path") or h.get("uri") or ""
        for a in h.get("actions", []):
            out.append(IngotAction(path, h.get("name", "?"), a["method"], a.get("op"), anon))
    return out


def actions_from_route_table(source):
    """Every action in Ingot's route_table.rs (HandlerDef and AnonDef blocks)."""
    text = open(source, encoding="utf-8").read()
    out = []
    blocks = re.split(r"\n\s*(?=(?:HandlerDef|AnonDef)\s*\{)", text)
    for block in blocks:
        kind = re.match(r"\s*(HandlerDef|AnonDef)\s*\{", block)
        if not kind:
            continue
        name = re.search(r'\bname:\s*"([^"]+)"', block)
        path = re.search(r'\bpath:\s*"([^"]+)"', block)
        if not (name and path):
            continue
        acts = re.search(r"actions:\s*ops!\[(.*?)\]\s*,\s*\}", block, re.S)
        if not acts:
            continue
        for m in re.finditer(r'"([^"]+)"\s+"(GET|POST|PUT|DELETE)"\s+(None|Some\("([^"]+)"\))',
                             acts.group(1)):
            out.append(IngotAction(path.group(1), name.group(1), m.group(2), m.group(4),
                                   kind.group(1) == "AnonDef"))
    if not out:
        sys.exit("%s: no HandlerDef actions found" % source)
    return out


def oauth_header(apikey):
    try:
        consumer, token, secret = apikey.split(":")
    except ValueError:
        sys.exit("--apikey must be consumer:token:secret")
    fields = [
        ("oauth_version", "1.0"),
        ("oauth_signature_method", "PLAINTEXT"),
        ("oauth_consumer_key", consumer),
        ("oauth_token", token),
        ("oauth_signature", "&" + secret),
        ("oauth_nonce", uuid.uuid4().hex),
        ("oauth_timestamp", str(int(time.time()))),
    ]
    return "OAuth " + ", ".join('%s="%s"' % (k, urllib.parse.quote(v, safe="")) for k, v in fields)


def fetch_describe(url, apikey):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if apikey:
        req.add_header("Authorization", oauth_header(apikey))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        body = e.read()[:300].decode("utf-8", "replace")
        hint = "" if apikey else " (try --apikey consumer:token:secret)"
        sys.exit("GET %s: HTTP %d %s%s" % (url, e.code, body, hint))
    except urllib.error.URLError as e:
        sys.exit("GET %s: %s" % (url, e.reason))


# ------------------------------------------------------------------ notes


def read_notes(path):
    notes = {}
    if not path:
        return notes
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = (line.split("\t") + [""] * 5)[:5]
            if cols[0] == "path" and cols[1] == "method":
                continue  # header
            if cols[1].upper() not in METHOD_ORDER or not cols[3].strip():
                sys.exit("%s:%d: want path<TAB>method<TAB>op<TAB>status<TAB>reason" % (path, n))
            notes[(shape(cols[0]), cols[1].upper(), norm_op(cols[2]))] = (cols[3].strip(), cols[4].strip())
    return notes


# ------------------------------------------------------------------ report


def bare(path):
    """A path without the API prefix and the trailing slash, parameter names kept."""
    path = urllib.parse.urlsplit(path).path if "://" in path else path
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX):]
    return path.strip("/")


def row_notes(note):
    """The parts of a TSV note worth showing (not the plain CRUD name)."""
    parts = [n.strip() for n in note.split(";") if n.strip()]
    return [n for n in parts if n not in CRUD_NAMES.values()]


def md(s):
    return str(s).replace("|", "\\|")


def report(maas, ingot, notes, source, out):
    served = {a.key(): a for a in ingot}
    ingot_shapes = {a.shape for a in ingot}
    w = out.write

    def status(row):
        for s in row.shapes:
            a = served.get((s, row.method, row.op))
            if a is not None:
                return "served", a, ""
        for s in row.shapes:
            n = notes.get((s, row.method, row.op))
            if n:
                return n[0], None, n[1]
        return "not served", None, ""

    groups = collections.OrderedDict()
    for row in maas:
        groups.setdefault((row.path, row.handler if not row.anon_only else None), []).append(row)
    # Put anonymous-only rows with their path's handler.
    by_path = collections.OrderedDict()
    for (path, _), rows in groups.items():
        by_path.setdefault(path, []).extend(rows)

    totals = collections.Counter()
    handler_state = collections.Counter()
    other_status = collections.Counter()
    matched_keys = set()
    w("# MAAS API 2.0 coverage by Ingot\n\n")
    w("Ingot's actions from: %s (%d actions). MAAS's list: %d actions.\n\n" % (source, len(ingot), len(maas)))
    sections = []
    for path, rows in by_path.items():
        main = [r for r in rows if not r.anon_only]
        hidden = all(r.hidden for r in rows)
        cls = main[0].handler if main else rows[0].handler
        # Notes every action of the handler shares go under its heading, once.
        head_notes = row_notes(main[0].note) if main else []
        head_notes = [n for n in head_notes if all(n in row_notes(r.note) for r in main)]
        lines = []
        n_served = 0
        n_counted = 0
        for r in sorted(rows, key=lambda r: (r.anon_only, r.op is not None, r.op or "", METHOD_ORDER[r.method])):
            st, act, reason = status(r)
            if act is not None:
                matched_keys.add(act.key())
            totals[(r.kind, st == "served")] += 1
            if st not in ("served", "not served"):
                other_status[(r.kind, st)] += 1
            if r.kind == "describe" or (hidden and r.kind == "hidden"):
                n_counted += 1
                n_served += st == "served"
            extra = []
            if act is not None and bare(act.path) != bare(r.path):
                extra.append("Ingot path `%s`" % act.path)
            if reason:
                extra.append(reason)
            extra += [n for n in row_notes(r.note) if n not in head_notes]
            mark = {"served": "served", "not served": "**not served**"}.get(st, st)
            lines.append("| %s | %s | %s | %s |\n" % (r.method, md(r.label()), mark, md("; ".join(extra))))
        if n_counted:
            state = "full" if n_served == n_counted else ("partial" if n_served else "none")
            handler_state[("hidden" if hidden else "describe", state)] += 1
        head = "".join("%s.\n\n" % md(n[0].upper() + n[1:]) for n in head_notes)
        sections.append("### `%s` — %s: %d/%d served\n\n%s| method | op | status | note |\n|---|---|---|---|\n%s\n"
                        % (path, cls, n_served, n_counted, head, "".join(lines)))

    def line(kind, title):
        s, n = totals[(kind, True)], totals[(kind, True)] + totals[(kind, False)]
        if n:
            extra = "".join("; %d %s" % (c, st) for (k, st), c in sorted(other_status.items()) if k == kind)
            w("| %s | %d / %d served%s |\n" % (title, s, n, extra))

    w("## Totals\n\n| | |\n|---|---|\n")
    d = {st: handler_state[("describe", st)] for st in ("full", "partial", "none")}
    w("| MAAS handlers (in MAAS describe) | %d: %d fully served, %d partly, %d not |\n"
      % (sum(d.values()), d["full"], d["partial"], d["none"]))
    line("describe", "MAAS ops (in MAAS describe)")
    line("anon-only", "anonymous-only MAAS ops")
    h = {st: handler_state[("hidden", st)] for st in ("full", "partial", "none")}
    if sum(h.values()):
        w("| hidden/internal MAAS handlers | %d: %d fully served, %d partly, %d not |\n"
          % (sum(h.values()), h["full"], h["partial"], h["none"]))
    line("hidden", "hidden/internal MAAS ops")
    extras = [a for a in ingot if a.key() not in matched_keys]
    w("| Ingot actions MAAS does not have | %d |\n\n" % len({a.key() for a in extras}))

    # Ingot actions that MAAS does not have, with a guess at what was meant.
    maas_at = collections.defaultdict(list)
    for r in maas:
        for s in r.shapes:
            maas_at[s].append(r)
    w("## Ingot actions that MAAS does not have\n\n")
    if not extras:
        w("None.\n\n")
    else:
        w("| Ingot path | handler | method | op | why / closest MAAS action |\n|---|---|---|---|---|\n")
        seen = set()
        for a in sorted(extras, key=lambda a: (a.shape, a.op or "", METHOD_ORDER.get(a.method, 9))):
            if a.key() in seen:
                continue
            seen.add(a.key())
            here = maas_at.get(a.shape, [])
            if not here:
                why = "path not in MAAS"
            else:
                same_op = [r for r in here if r.op == a.op
                           or (r.op is None and a.op == CRUD_NAMES[r.method])]
                names = sorted({r.op for r in here if r.op})
                close = difflib.get_close_matches(a.op or "", names, n=2, cutoff=0.75) if a.op else []
                if same_op:
                    why = "wrong method? MAAS has %s" % ", ".join(
                        "%s %s" % (r.method, r.label()) for r in same_op)
                elif a.op and close:
                    why = "typo? MAAS has op %s" % ", ".join("`%s`" % c for c in close)
                elif a.op is None:
                    why = "MAAS has no plain %s here" % a.method
                else:
                    why = "op not in MAAS at this path"
            w("| `%s` | %s | %s | %s | %s |\n" % (a.path, a.handler, a.method, md(a.label()), md(why)))
        w("\n")

    # Handler names (the maas CLI names its commands after them) and path spellings.
    w("## Handler names and path spellings that differ from MAAS\n\n")
    maas_by_shape = {}
    for r in maas:
        if not r.anon_only:
            for s in r.shapes:
                maas_by_shape.setdefault(s, r)
    diffs = []
    seen = set()
    for a in ingot:
        r = maas_by_shape.get(a.shape)
        if r is None or a.anon or (a.shape, a.handler) in seen:
            continue
        seen.add((a.shape, a.handler))
        if a.handler != r.handler:
            diffs.append("| `%s` | handler name `%s`, MAAS `%s` |\n" % (a.path, a.handler, r.handler))
        ip, mp = a.path, r.path
        if ip.startswith(API_PREFIX):
            ip = ip[len(API_PREFIX):]
        if ip.endswith("/") != mp.endswith("/") and shape(ip) == shape(mp):
            diffs.append("| `%s` | trailing slash differs: MAAS `%s` |\n" % (a.path, mp))
    if diffs:
        w("| Ingot path | difference |\n|---|---|\n" + "".join(diffs) + "\n")
    else:
        w("None.\n\n")
    w("## By handler\n\n")
    for s in sections:
        w(s)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tsv", nargs="?", default=DEFAULT_TSV, help="MAAS's list (default: %(default)s)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--describe", metavar="FILE", help="a saved describe JSON document")
    src.add_argument("--url", help="describe URL of a running Ingot, e.g. http://127.0.0.1:5240/MAAS/api/2.0/describe/")
    src.add_argument("--route-table", metavar="FILE", help="Ingot's crates/api/src/route_table.rs")
    p.add_argument("--apikey", help="consumer:token:secret, for --url (describe needs no credentials)")
    p.add_argument("--notes", metavar="FILE", help="TSV path, method, op, status, reason")
    p.add_argument("-o", "--output", metavar="FILE", help="write the markdown here instead of stdout")
    args = p.parse_args()

    maas = read_maas(args.tsv)
    if args.describe:
        with open(args.describe, encoding="utf-8") as f:
            ingot, source = actions_from_describe(json.load(f)), args.describe
    elif args.url:
        ingot, source = actions_from_describe(fetch_describe(args.url, args.apikey)), args.url
    else:
        ingot, source = actions_from_route_table(args.route_table), args.route_table
    notes = read_notes(args.notes)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    report(maas, ingot, notes, source, out)
    if args.output:
        out.close()


if __name__ == "__main__":
    main()
