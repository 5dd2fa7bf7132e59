/* Admin and clinic pages: HTML forms sent to the JSON API (no build step).
 *   <form class="api-form" data-url="/api/users/{username}/children" data-method="POST">
 *     fields become the JSON body; "{name}" in data-url takes that field out of the body;
 *     data-type="int" | "bool" converts; empty optional fields are left out.
 *   <button class="api-btn" data-url=... data-method=... data-body='{"a": 1}' data-confirm="...">
 * On success the page reloads and says "Saved."; errors show the server's reason.
 */
"use strict";
(function () {
  const M = window.movereg;
  const FLASH = "movereg.flash";

  function convert(el) {
    const t = el.dataset.type;
    if (t === "int") return Number(el.value);
    if (t === "bool") return el.value === "true";
    return el.value;
  }
  function done(msg) { sessionStorage.setItem(FLASH, msg || "Saved."); location.reload(); }
  function fail(box, e) { if (box) box.textContent = "Not saved: " + e.message; else alert(e.message); }

  document.querySelectorAll("form.api-form").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      let url = form.dataset.url;
      const body = {};
      form.querySelectorAll("[name]").forEach(function (el) {
        const hole = "{" + el.name + "}";
        if (url.includes(hole)) { url = url.replace(hole, encodeURIComponent(el.value)); return; }
        if (el.value === "" && !el.required) return;
        body[el.name] = convert(el);
      });
      const box = form.querySelector(".form-msg");
      if (box) box.textContent = "Saving…";
      try { await M.api(url, {method: form.dataset.method || "POST", body}); done(); }
      catch (e) { fail(box, e); }
    });
  });
  document.querySelectorAll(".api-btn").forEach(function (btn) {
    btn.addEventListener("click", async function () {
      if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
      const opts = {method: btn.dataset.method || "POST"};
      if (btn.dataset.body) opts.body = JSON.parse(btn.dataset.body);
      try { await M.api(btn.dataset.url, opts); done(); } catch (e) { fail(null, e); }
    });
  });

  // pinned strategies: ordered list with up / down / remove; "Save order" sends it
  function favButtons(li) {
    const label = li.querySelector(".fav-label").textContent;
    [["↑", "Move " + label + " up", -1], ["↓", "Move " + label + " down", 1], ["×", "Unpin " + label, 0]].forEach(function (b) {
      const x = document.createElement("button");
      x.type = "button"; x.className = "btn btn-small"; x.textContent = b[0]; x.setAttribute("aria-label", b[1]);
      x.addEventListener("click", function () {
        const ol = li.parentElement;
        if (b[2] === 0) li.remove();
        else if (b[2] < 0 && li.previousElementSibling) ol.insertBefore(li, li.previousElementSibling);
        else if (b[2] > 0 && li.nextElementSibling) ol.insertBefore(li.nextElementSibling, li);
        x.focus();
      });
      li.appendChild(x);
    });
  }
  document.querySelectorAll(".fav-editor").forEach(function (box) {
    const ol = box.querySelector(".fav-list");
    ol.querySelectorAll("li").forEach(favButtons);
    box.querySelector(".fav-pin").addEventListener("click", function () {
      const sel = box.querySelector(".fav-add");
      if (!sel.value || ol.querySelector('li[data-key="' + CSS.escape(sel.value) + '"]')) return;
      const li = document.createElement("li"); li.dataset.key = sel.value;
      const span = document.createElement("span"); span.className = "fav-label"; span.textContent = sel.selectedOptions[0].textContent;
      li.appendChild(span); favButtons(li); ol.appendChild(li); sel.value = "";
    });
    box.querySelector(".fav-save").addEventListener("click", async function () {
      const keys = Array.from(ol.querySelectorAll("li")).map(li => li.dataset.key);
      const msg = box.querySelector(".form-msg");
      try { await M.api("/api/children/" + box.dataset.childId + "/favourites", {method: "PUT", body: {keys}}); msg.textContent = "Saved."; }
      catch (e) { fail(msg, e); }
    });
  });

  const flash = sessionStorage.getItem(FLASH);
  const fbox = document.getElementById("flash");
  if (flash && fbox) { fbox.textContent = flash; sessionStorage.removeItem(FLASH); }
})();
