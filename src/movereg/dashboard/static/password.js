// Change password: POST /api/auth/password with the CSRF header; every session ends.
(function () {
  "use strict";
  const form = document.getElementById("pw-form");
  const msg = document.getElementById("pw-msg");
  if (!form) return;
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)movereg_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function say(text) { msg.textContent = text; msg.hidden = false; }
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const current = form.elements.current.value;
    const new1 = form.elements.new1.value;
    if (new1 !== form.elements.new2.value) { say("The two new passwords are not the same."); return; }
    const resp = await fetch("/api/auth/password", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify({current_password: current, new_password: new1}),
    });
    if (resp.status === 204) { window.location = "/login?error=changed"; return; }
    let detail = "The password could not be changed.";
    try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
    if (resp.status === 401) detail = "The current password is not right.";
    say(detail);
  });
})();
