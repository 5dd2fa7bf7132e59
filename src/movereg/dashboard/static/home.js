/* Parent home page: the big buttons and the plan ticks log through the shared taplog.js
   (tap, 5-s undo, back-dating, note, offline queue, Idempotency-Key); the plan counts
   follow what the server holds for today. */
"use strict";
(function () {
  function init() {
    const home = document.querySelector(".home");
    if (!home || !window.MoveregTaplog) return;
    const childId = Number(home.dataset.child);
    const labels = JSON.parse(document.getElementById("labels").textContent || "{}");
    const log = window.MoveregTaplog.create({childId, user: home.dataset.user, labels, undoMs: 5000});
    ["tap-root", "plan-root"].forEach(function (id) {
      const el = document.getElementById(id);
      if (el) window.MoveregTaplog.attach(el, log);
    });
    const d0ms = Math.floor(Number(home.dataset.d0) / 1e6);
    let refreshing = false;
    async function refresh() {   // recount today's plan from the events the server holds
      if (refreshing || window.MoveregTaplog.pending()) return;
      refreshing = true;
      try {
        const from = new Date(d0ms).toISOString();
        const evs = await window.movereg.api("/api/events?child_id=" + childId + "&from=" + encodeURIComponent(from));
        const uses = {};
        evs.forEach(function (e) { uses[e.strategy] = (uses[e.strategy] || 0) + 1; });
        let total = 0;
        document.querySelectorAll(".plan-item").forEach(function (li) {
          const want = Number(li.dataset.want);
          const done = Math.min(want, uses[li.dataset.strategy] || 0);
          li.querySelector(".done-n").textContent = String(done);
          li.classList.toggle("is-done", done >= want);
          total += done;
        });
        const sum = document.getElementById("plan-done");
        if (sum) sum.textContent = String(total);
      } catch (e) { /* offline: counts update when back */ }
      finally { refreshing = false; }
    }
    log.onChange(function (s) { if (!s.pending) setTimeout(refresh, 300); });
    window.addEventListener("online", refresh);
  }
  document.addEventListener("DOMContentLoaded", init);
})();
