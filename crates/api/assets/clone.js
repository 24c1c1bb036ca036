// The clone page: the machines ticked are listed as "will change" as they are ticked; the
// button asks for confirmation naming each of them; the confirmation sends
// POST /MAAS/api/2.0/machines/?op=clone (through common.js, with the session's CSRF token) and
// the result names the machines cloned and, for each one not cloned, the API's
// "<hostname> (<system id>): <cause>".
"use strict";

(() => {
  const form = document.getElementById("clone");
  if (!form) return;
  const go = document.getElementById("clone-go");
  const confirm = document.getElementById("confirm");
  const changing = document.getElementById("changing");
  const result = document.getElementById("clone-result");
  const cloned = document.getElementById("cloned");
  const notCloned = document.getElementById("not-cloned");

  const chosen = () => [...form.querySelectorAll("input.dest:checked")];
  const label = (box) => `${box.dataset.hostname} (${box.value})`;
  const item = (text, cls) => {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    return li;
  };

  const update = () => {
    const boxes = chosen();
    changing.replaceChildren(...(boxes.length ? boxes.map((b) => item(label(b))) : [item("None chosen.")]));
    go.disabled = boxes.length === 0;
    confirm.hidden = true;
  };
  form.addEventListener("change", update);

  const what = () => {
    const s = form.dataset.storage === "true";
    const i = form.dataset.interfaces === "true";
    return s && i ? "storage and interfaces" : s ? "storage" : "interfaces";
  };

  go.addEventListener("click", () => {
    const boxes = chosen();
    document.getElementById("confirm-text").textContent =
      `Replace the ${what()} of ${boxes.length} machine${boxes.length === 1 ? "" : "s"} ` +
      `(${boxes.map(label).join(", ")}) with those of ${form.dataset.sourceName} (${form.dataset.source})?`;
    confirm.hidden = false;
    document.getElementById("clone-yes").focus();
  });
  document.getElementById("clone-no").addEventListener("click", () => {
    confirm.hidden = true;
    go.focus();
  });

  document.getElementById("clone-yes").addEventListener("click", async () => {
    const boxes = chosen();
    const names = new Map(boxes.map((b) => [b.value, label(b)]));
    const body = new FormData();
    body.append("source", form.dataset.source);
    for (const b of boxes) body.append("destinations", b.value);
    body.append("storage", form.dataset.storage);
    body.append("interfaces", form.dataset.interfaces);
    confirm.hidden = true;
    go.disabled = true;
    const r = await ingot.api("POST", "/MAAS/api/2.0/machines/?op=clone", body);
    let report = null;
    try {
      report = JSON.parse(r.text);
    } catch (_) {
      report = null;
    }
    const done = report && Array.isArray(report.cloned) ? report.cloned : [];
    cloned.replaceChildren(
      ...(done.length
        ? done.map((sid) => {
            const li = document.createElement("li");
            const a = document.createElement("a");
            a.href = `/MAAS/r/machine/${encodeURIComponent(sid)}`;
            a.textContent = names.get(sid) || sid;
            li.append(a);
            li.className = "ok";
            return li;
          })
        : [item("None.")])
    );
    // A report names each failed destination; any other refusal is said in one line.
    const failures =
      report && Array.isArray(report.destinations)
        ? report.destinations
        : r.ok
          ? []
          : [ingot.refusal(r)];
    notCloned.replaceChildren(...(failures.length ? failures.map((f) => item(f, "refused")) : [item("None.")]));
    result.hidden = false;
    for (const b of boxes) b.checked = false;
    update();
    result.focus();
  });

  document.getElementById("clone-clear").addEventListener("click", () => {
    cloned.replaceChildren();
    notCloned.replaceChildren();
    result.hidden = true;
  });
})();
