/* Admin page, home relays: make a relay token and show it once (no page reload until the
 * admin has copied it). Revoking uses admin.js's api-btn. */
"use strict";
(function () {
  const form = document.getElementById("relay-form");
  if (!form) return;
  const msg = document.getElementById("relay-msg");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const kids = Array.from(form.querySelectorAll("input[name=child_ids]:checked")).map(x => Number(x.value));
    if (!kids.length) { msg.textContent = "Choose at least one child."; return; }
    msg.textContent = "Making the token…";
    try {
      const out = await window.movereg.api("/api/relay-tokens", {method: "POST", body: {name: document.getElementById("relay-name").value, child_ids: kids}});
      document.getElementById("relay-token").textContent = out.token;
      document.getElementById("relay-new").hidden = false;
      msg.textContent = "Made. Copy the token now: it is not shown again.";
    } catch (e) { msg.textContent = "Not made: " + e.message; }
  });
})();
