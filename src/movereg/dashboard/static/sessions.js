/* Sessions page: start one session for the checked children (each with their band). */
"use strict";
(function () {
  const M = window.movereg;
  const form = document.getElementById("start-form");
  document.querySelectorAll(".review-link").forEach(function (a) {
    a.textContent += " (" + new Date(Number(a.dataset.startMs)).toLocaleString() + ")";
  });
  if (!form) return;
  document.getElementById("check-none").addEventListener("click", function () {
    form.querySelectorAll("input[name=child]").forEach(x => { x.checked = false; });
  });
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const ids = Array.from(form.querySelectorAll("input[name=child]:checked")).map(x => Number(x.value));
    const msg = document.getElementById("start-msg");
    if (!ids.length) { msg.textContent = "Check at least one child."; return; }
    msg.textContent = "Starting…";
    try {
      const g = await M.api("/api/sessions/group", {method: "POST", body: {child_ids: ids}});
      location.href = "/sessions/" + g.group_id + "/live";
    } catch (e) { msg.textContent = "Could not start: " + e.message; }
  });
})();
