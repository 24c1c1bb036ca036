// What the UI's scripts share: the session's CSRF token, and one way to call the API and read
// its answer — a refusal is either an object of field errors (as MAAS's forms give them) or a
// text, and `refusal` says it in one line.
"use strict";

window.ingot = (() => {
  const csrf = () => {
    const c = document.cookie.split("; ").find((x) => x.startsWith("ingot_csrf="));
    return c ? decodeURIComponent(c.slice("ingot_csrf=".length)) : "";
  };

  // One field's messages as one text.
  const messages = (m) => (Array.isArray(m) ? m : [String(m)]).join(" ");

  // {ok, status, text, fields}: `fields` is the API's {field: [messages]} when it refused
  // with field errors, else null.
  async function api(method, url, body) {
    const resp = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf() },
      body,
    });
    const text = await resp.text();
    let fields = null;
    if (!resp.ok) {
      try {
        const j = JSON.parse(text);
        if (j && typeof j === "object" && !Array.isArray(j)) fields = j;
      } catch (_) {
        fields = null;
      }
    }
    return { ok: resp.ok, status: resp.status, text, fields };
  }

  // A refusal in one line: "field: message; …", the text, or the HTTP status.
  const refusal = (r) =>
    r.fields
      ? Object.entries(r.fields)
          .map(([f, m]) => (f === "__all__" ? messages(m) : `${f}: ${messages(m)}`))
          .join("; ")
      : r.text.trim() || `HTTP ${r.status}`;

  const self = { csrf, api, messages, refusal, saved: null };

  // A form with data-api is sent to that API path (data-method, POST by default) with the
  // session's CSRF token; the API's field errors go next to their fields (data-error-for),
  // anything else to the form's result line. Once saved, the page's `ingot.saved` runs, or
  // the page is loaded again.
  document.addEventListener("submit", async (e) => {
    const f = e.target;
    if (!f.dataset || !f.dataset.api) return;
    e.preventDefault();
    for (const p of f.querySelectorAll("[data-error-for]")) {
      p.hidden = true;
      p.textContent = "";
    }
    const result = f.querySelector(".form-result");
    const method = f.dataset.method || "POST";
    // A {field} in the path is that field's value (the interface a link is made on).
    const data = new URLSearchParams(new FormData(f));
    // data-omit-empty: a field left empty is not sent (the API's default, or the script's
    // own header, applies).
    if ("omitEmpty" in f.dataset) for (const [k, v] of [...data]) if (v === "") data.delete(k);
    const url = f.dataset.api.replace(/\{(\w+)\}/g, (_, k) => {
      const v = data.get(k) || "";
      data.delete(k);
      return encodeURIComponent(v);
    });
    const r = await api(method, url, method === "DELETE" ? null : data);
    if (r.ok) {
      if (result) {
        result.textContent = "Saved.";
        result.classList.remove("error");
      }
      if (typeof self.saved === "function") self.saved(f, r);
      else location.reload();
      return;
    }
    const rest = [];
    for (const [field, m] of Object.entries(r.fields || {})) {
      const slot = f.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (slot) {
        slot.textContent = messages(m);
        slot.hidden = false;
      } else rest.push(field === "__all__" ? messages(m) : `${field}: ${messages(m)}`);
    }
    if (!r.fields) rest.push(refusal(r));
    if (result) {
      result.textContent = rest.length ? rest.join(" ") : "Not saved.";
      result.classList.add("error");
    }
  });

  // A button with data-copy puts the text of the element it names on the clipboard (or, where
  // the browser does not allow that, selects it for the user to copy).
  document.addEventListener("click", async (e) => {
    const b = e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (!b) return;
    const el = document.getElementById(b.dataset.copy);
    if (!el) return;
    try {
      await navigator.clipboard.writeText(el.textContent);
      b.textContent = "Copied";
    } catch (_) {
      getSelection().selectAllChildren(el);
      b.textContent = "Selected: copy it";
    }
  });

  return self;
})();
