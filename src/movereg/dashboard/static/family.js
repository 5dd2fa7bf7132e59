/* Family settings, the therapist's home-plan editor and the two-step deletion. */
"use strict";
(function () {
  const api = function () { return window.movereg.api.apply(null, arguments); };
  function root() { return document.querySelector("[data-child]"); }
  function say(id, text) { const el = document.getElementById(id); if (el) el.textContent = text; }

  function wireSettings(childId) {
    const f = document.getElementById("settings-form");
    if (!f) return;
    f.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const body = {checkins_enabled: document.getElementById("set-checkins").checked};
      const tz = document.getElementById("set-tz").value;
      if (tz) body.tz = tz;
      try { await api("/api/children/" + childId + "/settings", {method: "PUT", body}); say("set-status", "Saved."); }
      catch (e) { say("set-status", "Not saved: " + e.message); }
    });
  }
  function wirePlan(childId) {
    const f = document.getElementById("plan-form");
    if (f) f.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const days = Array.from(f.querySelectorAll("input[name=day]:checked")).map(x => x.value).join("");
      try {
        await api("/api/children/" + childId + "/plan", {method: "POST", body: {
          strategy: f.strategy.value, when: f.when.value.trim(), times_per_day: Number(f.times.value) || 1,
          weekdays: days || "0123456"}});
        window.location.reload();
      } catch (e) { say("plan-status", "Not added: " + e.message); }
    });
    document.querySelectorAll("button.retire").forEach(function (b) {
      b.addEventListener("click", async function () {
        try { await api("/api/children/" + childId + "/plan/" + b.dataset.plan, {method: "DELETE"}); window.location.reload(); }
        catch (e) { say("plan-status", "Not removed: " + e.message); }
      });
    });
  }
  function wireDelete(childId) {
    const start = document.getElementById("del-start");
    if (!start) return;
    const step1 = document.getElementById("del-step1");
    const step2 = document.getElementById("del-step2");
    start.addEventListener("click", function () {   // first ask: show the form (bundle offered first)
      step1.hidden = false; start.setAttribute("aria-expanded", "true");
      document.getElementById("del-name").focus();
    });
    step1.addEventListener("submit", function (ev) {  // second ask: are you sure?
      ev.preventDefault();
      step1.hidden = true; step2.hidden = false;
      document.getElementById("del-cancel").focus();
    });
    document.getElementById("del-cancel").addEventListener("click", function () {
      step2.hidden = true; step1.hidden = false; say("del-status", "Nothing was deleted.");
    });
    document.getElementById("del-confirm").addEventListener("click", async function () {
      try {
        await api("/api/children/" + childId, {method: "DELETE", body: {
          password: document.getElementById("del-pw").value, confirm: document.getElementById("del-name").value}});
        step2.hidden = true;
        say("del-status", "Deleted. Everything held about this child has been removed.");
        setTimeout(function () { window.location = "/"; }, 2500);
      } catch (e) {
        step2.hidden = true; step1.hidden = false;
        say("del-status", "Nothing was deleted: " + e.message);
      }
    });
  }
  function wireCheckin() {   // a parent or therapist adds a neutral check-in
    const form = document.getElementById("checkin-form");
    if (!form) return;
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const r = form.querySelector("input[name=rating]:checked");
      const body = {part: form.part.value, note: form.note.value.trim()};
      if (r) body.rating = Number(r.value);
      try {
        await api("/api/children/" + form.dataset.child + "/checkins", {method: "POST", body});
        say("ci-status", "Check-in saved.");
        form.reset();
      } catch (e) { say("ci-status", "Not saved: " + e.message); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    wireCheckin();
    const r = root();
    if (!r) return;
    const id = Number(r.dataset.child);
    wireSettings(id); wirePlan(id); wireDelete(id);
  });
})();
