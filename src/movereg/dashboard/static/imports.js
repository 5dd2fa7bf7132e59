/* The recordings page: upload with a progress bar, then poll the import's progress. */
"use strict";
(function () {
  const form = document.getElementById("import-form");
  if (!form) return;
  const box = document.getElementById("import-status");
  const phase = document.getElementById("import-phase");
  const bar = document.getElementById("import-progress");
  const pct = document.getElementById("import-pct");
  const result = document.getElementById("import-result");
  const tz = document.getElementById("import-tz");
  const go = document.getElementById("import-go");
  // the field is prefilled by the server from the child's time-zone setting (never the browser's zone)
  function show(p, text) {
    const v = Math.max(0, Math.min(100, Math.round(p)));
    bar.value = v; pct.textContent = v + "%";
    if (text) phase.textContent = text;
  }
  function finish(text, ok, url) {
    result.textContent = text + " ";
    if (url) {
      const a = document.createElement("a");
      a.href = url; a.textContent = "Show the day";
      result.appendChild(a);
    }
    result.className = ok ? "ok" : "error";
    go.disabled = false;
  }
  async function poll(id) {
    for (;;) {
      let imp;
      try {
        imp = await window.movereg.api("/api/imports/" + id);
      } catch (err) { finish(err.message, false); return; }
      show(imp.progress * 100, imp.status === "pending" ? "Waiting to start…" :
        "Reading the recording and computing movement features… (you can close this page)");
      if (imp.status === "done") {
        show(100, "Done.");
        finish("Added: " + imp.n_epochs.toLocaleString() + " epochs from " + imp.label + ".", true, imp.day_url);
        return;
      }
      if (imp.status === "failed" || imp.status === "cancelled") {
        phase.textContent = "Not added.";
        finish(imp.message || "The recording could not be added.", false);
        return;
      }
      await new Promise(function (r) { setTimeout(r, 500); });
    }
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const file = document.getElementById("import-file").files[0];
    if (!file) return;
    const data = new FormData();
    data.append("file", file);
    if (tz.value.trim()) data.append("tz", tz.value.trim());
    const dev = document.getElementById("import-device").value.trim();
    if (dev) data.append("device", dev);
    box.hidden = false; result.textContent = ""; go.disabled = true;
    show(0, "Uploading " + file.name + "…");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/children/" + form.dataset.child + "/imports");
    xhr.setRequestHeader("X-CSRF-Token", window.movereg.cookie("movereg_csrf"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) show(100 * e.loaded / e.total, "Uploading " + file.name + "…");
    };
    xhr.onerror = function () { finish("The upload was interrupted; please try again.", false); };
    xhr.onload = function () {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body && body.already_imported) {
        show(100, "Already there.");
        finish("This file is already in the record (" + body.label + "); nothing was changed.", true, body.day_url);
        return;
      }
      if (xhr.status === 202 && body) { show(0, "Processing…"); poll(body.id); return; }
      phase.textContent = "Not added.";
      finish((body && body.detail) || ("The upload failed (" + xhr.status + ")."), false);
    };
    xhr.send(data);
  });
  document.querySelectorAll(".import-remove").forEach(function (btn) {
    btn.addEventListener("click", async function () {
      const reason = window.prompt("Why remove this recording from the record? (kept in the audit log)");
      if (!reason) return;
      try {
        await window.movereg.api("/api/imports/" + btn.dataset.id, {method: "DELETE", body: {reason: reason}});
        window.location.reload();
      } catch (err) { window.alert(err.message); }
    });
  });
})();
