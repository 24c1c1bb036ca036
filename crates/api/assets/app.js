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
// session's CSRF token), and one line per machine saying what happened.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const csrf = () => {
    const c = document.cookie.split("; ").find((x) => x.startsWith("ingot_csrf="));
    return c ? decodeURIComponent(c.slice("ingot_csrf=".length)) : "";
  };
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
    const keep = new Set(picked());
    const resp = await fetch("/MAAS/r/list" + location.search, { credentials: "same-origin" });
    if (resp.status !== 200) {
      if (resp.redirected || resp.status === 401) location.reload();
      return;
    }
    byId("machines").innerHTML = await resp.text();
    for (const b of document.querySelectorAll("input.pick")) b.checked = keep.has(b.value);
    showPicked();
  }

  const changed = () => {
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
      changed();
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
      if (m.kind === "machine") changed();
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

  // ---------------------------------------------------------------- actions
  document.addEventListener("change", (e) => {
    if (e.target.classList && e.target.classList.contains("pick")) showPicked();
  });

  async function act(op, id) {
    const url =
      op === "delete"
        ? `/MAAS/api/2.0/machines/${encodeURIComponent(id)}/`
        : `/MAAS/api/2.0/machines/${encodeURIComponent(id)}/?op=${encodeURIComponent(op)}`;
    const resp = await fetch(url, {
      method: op === "delete" ? "DELETE" : "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf() },
    });
    if (resp.ok) return { ok: true, text: "done" };
    const text = (await resp.text()).trim();
    return { ok: false, text: text || `HTTP ${resp.status}` };
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
      Array.from(document.querySelectorAll("tr[data-id]")).map((tr) => [
        tr.dataset.id,
        tr.dataset.hostname,
      ]),
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
