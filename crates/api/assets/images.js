// The images page's upload, as python-libmaas uploads: the file's SHA-256 and size first
// (POST /MAAS/api/2.0/boot-resources/), then its bytes in 4 MiB chunks to the resource's
// upload URI (PUT, application/octet-stream), the progress bar following both steps. The
// region checks the digest when the last chunk arrives. The digest is computed here, a chunk
// at a time (WebCrypto digests only whole buffers, and only on HTTPS or localhost).
"use strict";

(() => {
  const form = document.getElementById("upload");
  if (!form) return;
  const bar = document.getElementById("upload-progress");
  const state = document.getElementById("upload-state");
  const CHUNK = 4 * 1024 * 1024;

  // SHA-256 (FIPS 180-4), fed in pieces.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  function sha256() {
    const H = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const buf = new Uint8Array(64);
    let have = 0;
    let total = 0;
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    function block(d, o) {
      for (let t = 0; t < 16; t++) {
        const i = o + 4 * t;
        w[t] = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
      }
      for (let t = 16; t < 64; t++) {
        const a = w[t - 15];
        const b = w[t - 2];
        const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
        const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let a = H[0], b = H[1], c = H[2], d2 = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (let t = 0; t < 64; t++) {
        const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g;
        g = f;
        f = e;
        e = (d2 + t1) | 0;
        d2 = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d2; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    function feed(data) {
      let i = 0;
      if (have) {
        const take = Math.min(64 - have, data.length);
        buf.set(data.subarray(0, take), have);
        have += take;
        i = take;
        if (have === 64) {
          block(buf, 0);
          have = 0;
        }
      }
      for (; i + 64 <= data.length; i += 64) block(data, i);
      if (i < data.length) {
        buf.set(data.subarray(i), 0);
        have = data.length - i;
      }
    }
    return {
      update(data) {
        total += data.length;
        feed(data);
      },
      hex() {
        const bits = total * 8;
        const pad = new Uint8Array((have < 56 ? 56 : 120) - have + 8);
        pad[0] = 0x80;
        const n = pad.length;
        const hi = Math.floor(bits / 0x100000000);
        const lo = bits >>> 0;
        for (let k = 0; k < 4; k++) {
          pad[n - 8 + k] = (hi >>> (24 - 8 * k)) & 0xff;
          pad[n - 4 + k] = (lo >>> (24 - 8 * k)) & 0xff;
        }
        feed(pad);
        return [...H].map((x) => x.toString(16).padStart(8, "0")).join("");
      },
    };
  }

  const show = (text, done, of) => {
    state.textContent = text;
    bar.hidden = false;
    bar.max = Math.max(of, 1);
    bar.value = done;
  };
  const errors = (r) => {
    const rest = [];
    for (const [field, m] of Object.entries(r.fields || {})) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (slot) {
        slot.textContent = ingot.messages(m);
        slot.hidden = false;
      } else rest.push(`${field}: ${ingot.messages(m)}`);
    }
    if (!r.fields) rest.push(ingot.refusal(r));
    state.textContent = rest.join(" ") || "Not uploaded.";
    state.className = "error";
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const p of form.querySelectorAll("[data-error-for]")) {
      p.hidden = true;
      p.textContent = "";
    }
    state.className = "";
    const file = form.elements.file.files[0];
    if (!file) {
      state.textContent = "Choose the image file.";
      state.className = "error";
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const h = sha256();
      for (let at = 0; at < file.size; at += CHUNK) {
        h.update(new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer()));
        show(`Checking the file: ${Math.min(at + CHUNK, file.size)} of ${file.size} bytes`, Math.min(at + CHUNK, file.size), file.size * 2);
      }
      const body = new URLSearchParams();
      for (const k of ["name", "title", "architecture", "filetype"]) body.append(k, form.elements[k].value);
      body.append("sha256", h.hex());
      body.append("size", String(file.size));
      const made = await ingot.api("POST", "/MAAS/api/2.0/boot-resources/", body);
      if (!made.ok) return errors(made);
      const res = JSON.parse(made.text);
      let uri = `/MAAS/api/2.0/boot-resources/${res.id}/upload/${res.id}/`;
      for (const set of Object.values(res.sets || {})) {
        for (const f of Object.values(set.files || {})) if (f.upload_uri) uri = f.upload_uri;
      }
      for (let at = 0; at < file.size; at += CHUNK) {
        const chunk = file.slice(at, at + CHUNK, "application/octet-stream");
        const r = await ingot.api("PUT", uri, chunk);
        if (!r.ok) return errors(r);
        const sent = Math.min(at + CHUNK, file.size);
        show(`Uploading: ${sent} of ${file.size} bytes`, file.size + sent, file.size * 2);
      }
      show(`Uploaded ${res.name}: ${file.size} bytes, sha256 checked by the region.`, 1, 1);
      setTimeout(() => location.reload(), 800);
    } finally {
      button.disabled = false;
    }
  });
})();
