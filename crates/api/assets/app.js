// Ingot's web UI: the machine list, live and actionable. Plain JavaScript, no third-party code.
//
// Live: one tab of the browser holds the "ingot-stream" Web Lock and with it the only
// EventSource on /MAAS/r/events; it passes what arrives to the other tabs on a
// BroadcastChannel. A hidden page (pagehide: closed, or kept in the back/forward cache)
// gives the lock up, so another tab takes over and no tab holds a connection it does not
// use — browsers allow six HTTP/1.1 connections per host, and ten open tabs must not stall
// the next page. When something changes, the list is fetched again from the server
// (/MAAS/r/list), which renders it as it renders the page.
//
// Actions: the selected machines, one API request each (the same API the CLI uses, with the
// session's CSRF token: `window.ingot` from common.js), and one line per machine saying what
// happened.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("ingot-live") : null;
  let source = null;
  let releaseLock = null;
  let pending = null;
  let timer = null;

  const setLive = (text) => {
    const el = byId("live");
    if (el) el.textContent = text;
  };

  // ---------------------------------------------------------------- the list
  const picked = () =>
    Array.from(document.querySelectorAll("input.pick:checked")).map((b) => b.value);

  const showPicked = () => {
    const n = picked().length;
    byId("picked").textContent = n ? `${n} selected` : "";
  };

  async function refresh() {
    const list = byId("machines");
    const url = list.dataset.refresh || "/MAAS/r/list" + location.search;
    const resp = await fetch(url + (list.dataset.refresh ? location.search : ""), {
      credentials: "same-origin",
    });
    if (resp.status !== 200) {
      if (resp.redirected || resp.status === 401) location.reload();
      return;
    }
    const fresh = document.createElement("template");
    fresh.innerHTML = await resp.text();
    // Nothing changed in what is shown: keep the rows (and whatever the user is clicking).
    if (fresh.innerHTML === list.innerHTML) return;
    // The selection as it is now (not when the fetch began: a click meanwhile counts).
    const keep = new Set(picked());
    list.replaceChildren(fresh.content);
    for (const b of document.querySelectorAll("input.pick")) b.checked = keep.has(b.value);
    showPicked();
  }

  // A change of a machine (its system id, or "*" for one this user may not see or one that
  // vanished): the list refreshes on any; a machine page on its own or "*".
  const changed = (id) => {
    const only = byId("machines").dataset.machine;
    if (only && id !== only && id !== "*") return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 100);
  };

  // ---------------------------------------------------------------- the stream
  function open() {
    source = new EventSource("/MAAS/r/events");
    source.addEventListener("ready", () => {
      setLive("live");
      if (channel) channel.postMessage({ kind: "ready" });
    });
    source.addEventListener("machine", (e) => {
      if (channel) channel.postMessage({ kind: "machine", id: e.data });
      changed(e.data);
    });
    // EventSource reconnects by itself after an error; say so meanwhile.
    source.addEventListener("error", () => setLive("reconnecting"));
  }

  function lead() {
    if (!navigator.locks) {
      open();
      return;
    }
    const abort = new AbortController();
    pending = abort;
    navigator.locks
      .request("ingot-stream", { signal: abort.signal }, () => {
        pending = null;
        open();
        return new Promise((resolve) => {
          releaseLock = resolve;
        });
      })
      .catch(() => {});
  }

  function stop() {
    if (source) {
      source.close();
      source = null;
    }
    if (releaseLock) {
      releaseLock();
      releaseLock = null;
    }
    if (pending) {
      pending.abort();
      pending = null;
    }
    setLive("paused");
  }

  if (channel) {
    channel.onmessage = (e) => {
      const m = e.data || {};
      if (m.kind === "machine") changed(m.id);
      if (m.kind === "ready") setLive("live");
      if (m.kind === "hello" && source && source.readyState === EventSource.OPEN) {
        channel.postMessage({ kind: "ready" });
      }
    };
  }
  addEventListener("pagehide", stop);
  addEventListener("pageshow", (e) => {
    if (e.persisted) {
      lead();
      refresh();
    }
  });
  lead();
  if (channel) channel.postMessage({ kind: "hello" });

  // A form with data-api saved (common.js): the page's sections again.
  ingot.saved = () => refresh();

  // The machine's own credentials (its owner's page): shown, or replaced.
  document.addEventListener("click", async (e) => {
    const b = e.target.closest ? e.target.closest("button[data-token]") : null;
    if (!b) return;
    const box = byId("credentials");
    const out = byId("token");
    const url = `/MAAS/api/2.0/machines/${encodeURIComponent(box.dataset.machine)}/?op=`;
    const r =
      b.dataset.token === "get"
        ? await ingot.api("GET", `${url}get_token`)
        : await ingot.api("POST", `${url}regenerate_token`);
    if (!r.ok) {
      out.textContent = ingot.refusal(r);
      return;
    }
    const t = JSON.parse(r.text);
    out.textContent = t
      ? `consumer_key: ${t.consumer_key}\ntoken_key: ${t.token_key}\ntoken_secret: ${t.token_secret}` +
        (b.dataset.token === "get" ? "" : "\n(new: the old credentials no longer work)")
      : "The machine has no credentials yet: regenerate them to make them.";
  });

  // ---------------------------------------------------------------- actions
  document.addEventListener("change", (e) => {
    if (e.target.classList && e.target.classList.contains("pick")) showPicked();
  });

  // What the chosen action takes, from its inputs (shown only for that action).
  const showParams = () => {
    const op = byId("action").value;
    for (const d of document.querySelectorAll("#act .params")) d.hidden = d.dataset.for !== op;
  };
  byId("action").addEventListener("change", showParams);
  showParams();

  const utf8Base64 = (text) => {
    const bytes = new TextEncoder().encode(text);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  };

  // The request for one machine: [method, url, body].
  function request(op, id) {
    const f = byId("act").elements;
    const machine = `/MAAS/api/2.0/machines/${encodeURIComponent(id)}/`;
    const body = new URLSearchParams();
    switch (op) {
      case "delete":
        return ["DELETE", machine, null];
      case "set_zone":
        body.append("zone", f.zone.value);
        return ["PUT", machine, body];
      case "set_pool":
        body.append("pool", f.pool.value);
        return ["PUT", machine, body];
      case "tag":
        body.append("add", id);
        return ["POST", `/MAAS/api/2.0/tags/${encodeURIComponent(f.tag.value.trim())}/?op=update_nodes`, body];
      case "deploy":
        if (f.distro_series.value) body.append("distro_series", f.distro_series.value);
        if (f.user_data.value) body.append("user_data", utf8Base64(f.user_data.value));
        break;
      case "release":
        for (const k of ["erase", "secure_erase", "quick_erase"]) {
          if (f[k].checked) body.append(k, "true");
        }
        break;
    }
    return ["POST", `${machine}?op=${encodeURIComponent(op)}`, body];
  }

  async function act(op, id) {
    const r = await ingot.api(...request(op, id));
    return r.ok ? { ok: true, text: "done" } : { ok: false, text: ingot.refusal(r) };
  }

  byId("run").addEventListener("click", async () => {
    const op = byId("action").value;
    const label = byId("action").selectedOptions[0].textContent;
    const ids = picked();
    const out = byId("results");
    out.replaceChildren();
    if (!ids.length) {
      const li = document.createElement("li");
      li.textContent = "Select machines first.";
      out.append(li);
      return;
    }
    const names = new Map(
      Array.from(document.querySelectorAll("input.pick")).map((b) => [b.value, b.dataset.hostname]),
    );
    const results = await Promise.all(ids.map((id) => act(op, id).then((r) => [id, r])));
    for (const [id, r] of results) {
      const li = document.createElement("li");
      li.className = r.ok ? "ok" : "refused";
      li.dataset.id = id;
      li.textContent = `${names.get(id) || id}: ${label}: ${r.text}`;
      out.append(li);
    }
    refresh();
  });
})();
