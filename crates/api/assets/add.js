// Ingot's "Add machine" form: shows the chosen power type's parameters only, sends the form
// to the API as the API takes it (POST /MAAS/api/2.0/machines/ with the session's CSRF
// token, through common.js), and puts each field error the API answers next to its field.
"use strict";

(() => {
  const form = document.getElementById("add");

  const showPower = () => {
    const chosen = form.elements.power_type.value;
    for (const fs of form.querySelectorAll("fieldset.power")) {
      const on = fs.dataset.power === chosen;
      fs.hidden = !on;
      fs.disabled = !on;
    }
  };
  form.elements.power_type.addEventListener("change", showPower);
  showPower();

  const clearErrors = () => {
    for (const p of form.querySelectorAll("p.error")) {
      p.hidden = true;
      p.textContent = "";
    }
  };
  const showError = (field, messages) => {
    const slot = document.getElementById(`err-${field}`) || document.getElementById("err-__all__");
    const text = ingot.messages(messages);
    slot.textContent = slot.id === "err-__all__" && field !== "__all__" ? `${field}: ${text}` : text;
    slot.hidden = false;
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const body = new URLSearchParams();
    const el = form.elements;
    if (el.hostname.value.trim()) body.append("hostname", el.hostname.value.trim());
    body.append("architecture", el.architecture.value);
    for (const m of el.mac_addresses.value.split(/[\s,]+/)) if (m) body.append("mac_addresses", m);
    if (el.power_type.value) {
      body.append("power_type", el.power_type.value);
      const fs = form.querySelector(`fieldset.power[data-power="${CSS.escape(el.power_type.value)}"]`);
      for (const input of fs ? fs.querySelectorAll("input, select") : []) {
        if (input.value !== "") body.append(input.name, input.value);
      }
    }
    body.append("zone", el.zone.value);
    body.append("pool", el.pool.value);
    body.append("commission", el.commission.checked ? "true" : "false");
    body.append("deployed", el.deployed.checked ? "true" : "false");
    const r = await ingot.api("POST", "/MAAS/api/2.0/machines/", body);
    if (r.ok) {
      const m = JSON.parse(r.text);
      const done = document.getElementById("added");
      // Commissioning needs a way to power the machine on: without a power type it stays New.
      const why =
        m.status_name === "New" && el.commission.checked && !el.power_type.value
          ? " It stays New: without a power type Ingot cannot power it on to commission it. Set its power type, then commission it (or power it on by hand)."
          : "";
      done.textContent = `Added ${m.hostname} (${m.system_id}): ${m.status_name}.${why}`;
      done.dataset.systemId = m.system_id;
      done.hidden = false;
      form.reset();
      showPower();
      return;
    }
    if (r.fields) {
      for (const [field, messages] of Object.entries(r.fields)) showError(field, messages);
    } else {
      showError("__all__", ingot.refusal(r));
    }
  });
})();
