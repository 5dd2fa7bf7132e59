/* Session review: the note draft (editable, copyable) and correct / void with a reason. */
"use strict";
(function () {
  const M = window.movereg;
  const cfg = JSON.parse(document.getElementById("review-config").textContent);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  if (!cfg.tz_given) { const u = new URL(location.href); u.searchParams.set("tz", tz); location.replace(u); return; }
  const text = document.getElementById("note-text");
  const msg = document.getElementById("note-msg");
  async function draft() {
    const nums = document.getElementById("note-numbers").checked;
    try {
      const n = await M.api("/api/sessions/" + cfg.group_id + "/note?tz=" + encodeURIComponent(tz) + (nums ? "&numbers=true" : ""));
      text.value = n.text; msg.textContent = "";
    } catch (e) { msg.textContent = "Could not draft the note: " + e.message; }
  }
  document.getElementById("redraft").addEventListener("click", draft);
  document.getElementById("note-numbers").addEventListener("change", draft);
  document.getElementById("copy-note").addEventListener("click", async function () {
    try { await navigator.clipboard.writeText(text.value); msg.textContent = "Copied."; }
    catch (e) { text.select(); msg.textContent = document.execCommand("copy") ? "Copied." : "Select the text and copy it (Ctrl+C)."; }
  });
  document.querySelectorAll(".fix-form").forEach(function (form) {
    let action = "correct";
    form.querySelectorAll("button[name=action]").forEach(b => b.addEventListener("click", function () { action = b.value; }));
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const id = form.dataset.eventId, reason = form.reason.value.trim(), box = form.querySelector(".form-msg");
      try {
        if (action === "void") await M.api("/api/events/" + id + "/void", {method: "POST", body: {reason}});
        else {
          const body = {reason};
          if (form.strategy.value) body.strategy = form.strategy.value;
          if (form.ended.value) {  // a clock time on the day the event started (this tablet's zone)
            const end = new Date(Number(form.dataset.startMs)), hm = form.ended.value.split(":");
            end.setHours(Number(hm[0]), Number(hm[1]), 0, 0);
            body.ended_at = end.toISOString();
          }
          await M.api("/api/events/" + id, {method: "PUT", body});
        }
        sessionStorage.setItem("movereg.flash", action === "void" ? "Voided; the record and its reason are kept." : "Corrected; the earlier version is kept.");
        location.reload();
      } catch (e) { box.textContent = "Not saved: " + e.message; }
    });
  });
  const f = sessionStorage.getItem("movereg.flash");
  if (f) { document.getElementById("flash").textContent = f; sessionStorage.removeItem("movereg.flash"); }
  draft();
})();
