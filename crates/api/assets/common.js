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

  return { csrf, api, messages, refusal };
})();
