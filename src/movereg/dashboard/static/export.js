/* Research export: stream /api/export/{what} with fetch + ReadableStream and show bytes
   received. All children -> one file; a subset -> one file per child code. */
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

  const epochBox = document.getElementById("epoch-options");
  const featureBoxes = function () { return Array.from(form.querySelectorAll("input[name=feature]")); };
  function syncKind() {            // epoch length and features apply to epoch tables only
    if (epochBox) epochBox.disabled = form.elements["what"].value !== "epochs";
  }
  form.elements["what"].addEventListener("change", syncKind);
  syncKind();
  const setAll = function (on) { featureBoxes().forEach(function (b) { b.checked = on; }); };
  const allBtn = document.getElementById("features-all");
  const noneBtn = document.getElementById("features-none");
  if (allBtn) allBtn.addEventListener("click", function () { setAll(true); });
  if (noneBtn) noneBtn.addEventListener("click", function () { setAll(false); });

  function human(n) {
    if (n < 1024) return n + " bytes";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  function baseQuery() {
    const q = new URLSearchParams();
    const from = new Date(form.elements["from"].value + "T00:00:00");
    const to = new Date(form.elements["to"].value + "T00:00:00");
    to.setDate(to.getDate() + 1);                  // "to" date is inclusive
    q.set("from", from.toISOString());
    q.set("to", to.toISOString());
    q.set("format", form.elements["format"].value);
    if (form.elements["what"].value === "epochs" && epochBox) {
      const sel = form.elements["epoch_s"];
      if (sel.selectedIndex > 0) q.set("epoch_s", sel.value);   // first option = as recorded
      const boxes = featureBoxes();
      const chosen = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      if (chosen.length < boxes.length) q.set("features", chosen.join(","));
    }
    return q;
  }
  const empties = [];
  async function download(url, fallbackName, label) {
    const resp = await fetch(url, {credentials: "same-origin"});
    if (!resp.ok) {
      let msg = "Export failed (" + resp.status + ")";
      try { msg = (await resp.json()).detail || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    const why = resp.headers.get("X-Movereg-Why-Empty");   // an export with no rows says why
    if (why) empties.push("No rows for " + label + " (" + why + ")");
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
      status.textContent = label + ": received " + human(got) + (total ? " of " + human(total) : "");
    }
    const blob = new Blob(chunks, {type: resp.headers.get("content-type") || "application/octet-stream"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = fallbackName;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    return got;
  }
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const boxes = Array.from(form.querySelectorAll("input[name=child]"));
    const chosen = boxes.filter(b => b.checked).map(b => b.value);
    if (!chosen.length) { status.textContent = "Choose at least one child."; return; }
    if (!form.elements["from"].value || !form.elements["to"].value) { status.textContent = "Choose both dates."; return; }
    const what = form.elements["what"].value, fmt = form.elements["format"].value;
    if (what === "epochs" && featureBoxes().length && !featureBoxes().some(function (b) { return b.checked; })) {
      status.textContent = "Choose at least one feature."; return;
    }
    const jobs = chosen.length === boxes.length ? [null] : chosen;
    const btn = document.getElementById("export-go");
    btn.disabled = true; progress.hidden = false; progress.removeAttribute("value");
    let bytes = 0;
    empties.length = 0;
    try {
      for (const code of jobs) {
        const q = baseQuery();
        if (code) q.set("child", code);
        const name = "movereg-" + what + (code ? "-" + code : "") + "." + (fmt === "omh" ? "jsonl" : fmt);
        bytes += await download("/api/export/" + what + "?" + q.toString(), name, code || "all children");
      }
      progress.max = 1; progress.value = 1;
      status.textContent = "Done: " + jobs.length + " file" + (jobs.length === 1 ? "" : "s") + ", " + human(bytes) + "." + (empties.length ? " " + empties.join("; ") + "." : "");
    } catch (e) {
      status.textContent = e.message; progress.hidden = true;
    } finally { btn.disabled = false; }
  });
})();
