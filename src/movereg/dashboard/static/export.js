/* Research export: build the query, stream the download and show bytes received. */
"use strict";
(function () {
  const form = document.getElementById("export-form");
  if (!form) return;
  const progress = document.getElementById("export-progress");
  const status = document.getElementById("export-status");
  const today = new Date();
  const iso = function (d) { return d.toISOString().slice(0, 10); };
  form.elements["to"].value = iso(today);
  form.elements["from"].value = iso(new Date(today.getTime() - 6 * 86400000));

  function query() {
    const q = new URLSearchParams();
    form.querySelectorAll("input[name=child]:checked").forEach(function (c) { q.append("child_id", c.value); });
    form.querySelectorAll("input[name=feature]:checked").forEach(function (c) { q.append("feature", c.value); });
    const from = new Date(form.elements["from"].value + "T00:00:00");
    const to = new Date(form.elements["to"].value + "T00:00:00");
    to.setDate(to.getDate() + 1);
    q.set("from", from.toISOString());
    q.set("to", to.toISOString());
    q.set("epoch_s", form.elements["epoch_s"].value);
    q.set("format", form.elements["format"].value);
    return q;
  }
  function human(n) {
    if (n < 1024) return n + " bytes";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const q = query();
    if (!q.getAll("child_id").length) { status.textContent = "Choose at least one child."; return; }
    if (!form.elements["from"].value || !form.elements["to"].value) { status.textContent = "Choose both dates."; return; }
    const btn = document.getElementById("export-go");
    btn.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    status.textContent = "Preparing…";
    try {
      const resp = await fetch("/api/export?" + q.toString(), {credentials: "same-origin",
        headers: {"X-CSRF-Token": window.movereg.cookie("movereg_csrf")}});
      if (!resp.ok) {
        let msg = "Export failed (" + resp.status + ")";
        try { msg = (await resp.json()).detail || msg; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      const total = Number(resp.headers.get("content-length")) || 0;
      const reader = resp.body.getReader();
      const chunks = [];
      let got = 0;
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        chunks.push(r.value);
        got += r.value.length;
        if (total) { progress.max = total; progress.value = got; }
        status.textContent = "Received " + human(got) + (total ? " of " + human(total) : "");
      }
      const name = (resp.headers.get("content-disposition") || "").match(/filename="?([^";]+)"?/);
      const blob = new Blob(chunks, {type: resp.headers.get("content-type") || "application/octet-stream"});
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name ? name[1] : "movereg-export." + q.get("format");
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      progress.max = 1; progress.value = 1;
      status.textContent = "Done: " + human(got) + " downloaded.";
    } catch (e) {
      status.textContent = e.message;
      progress.hidden = true;
    } finally {
      btn.disabled = false;
    }
  });
})();
