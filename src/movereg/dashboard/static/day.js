/* Day and week pages: when the child has no time zone set, ask for the browser's once
   (the server renders in it); a child's own zone setting always wins. */
"use strict";
(function () {
  const url = new URL(window.location.href);
  const sheet = document.querySelector("[data-tz-set]");
  if (sheet && sheet.dataset.tzSet === "yes") return;
  if (!url.searchParams.get("tz")) {
    try {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (tz && tz !== "UTC") { url.searchParams.set("tz", tz); window.location.replace(url.toString()); }
    } catch (e) { /* keep UTC */ }
  }
})();
