/* The report's only script: the removal checklist, "hide values" and print preparation.
   Inline in the page and allowed by hash in its CSP. It reads nothing but its own page and never
   writes scraped text as HTML (textContent only). Everything works without it except remembering. */
(function () {
  "use strict";

  // Browsers may refuse storage for file:// pages, and merely touching localStorage can throw.
  var store = null;
  try {
    var probe = "exposure:probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    store = window.localStorage;
  } catch (e) {
    store = null;
  }
  function load(key) {
    if (!store) return null;
    try { return store.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    if (!store) return;
    try {
      if (value === null) store.removeItem(key); else store.setItem(key, value);
    } catch (e) { /* full or revoked: the tick still shows until the page is closed */ }
  }

  var body = document.body;
  var scanId = body.getAttribute("data-scan-id") || "";
  function keyOf(site) { return "exposure:" + scanId + ":" + site; }
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  function showState(cls) {
    all(cls).forEach(function (el) { el.hidden = false; });
  }
  showState(store ? ".storage-ok" : ".storage-off");

  // --- the removal checklist: one tick per request, stored under scan id + site id ---
  var boxes = all("input[data-check]");
  function isoDay(d) {
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  function noteFor(site, stamp, days) {
    if (!stamp) return "";
    var text = "Sent " + stamp + ".";
    var sent = new Date(stamp + "T12:00:00");
    if (days !== null && !isNaN(sent.getTime())) {
      sent.setDate(sent.getDate() + days + 1);
      text += " Check again after " + isoDay(sent) + ".";
    }
    return text;
  }
  function paint(site, stamp) {
    var days = null;
    boxes.forEach(function (box) {
      if (box.getAttribute("data-check") !== site) return;
      box.checked = !!stamp;
      var d = box.getAttribute("data-days");
      if (d !== null && d !== "") days = parseInt(d, 10);
    });
    all("[data-check-note]").forEach(function (el) {
      if (el.getAttribute("data-check-note") === site) el.textContent = noteFor(site, stamp, days);
    });
  }
  var stamps = {};
  boxes.forEach(function (box) {
    var site = box.getAttribute("data-check");
    if (!(site in stamps)) stamps[site] = load(keyOf(site));
  });
  function progress() {
    var sites = Object.keys(stamps);
    var done = sites.filter(function (s) { return !!stamps[s]; }).length;
    all("[data-progress-done]").forEach(function (el) { el.textContent = String(done); });
    all(".progress").forEach(function (el) { el.hidden = sites.length === 0; });
  }
  Object.keys(stamps).forEach(function (site) { paint(site, stamps[site]); });
  progress();
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var site = box.getAttribute("data-check");
      stamps[site] = box.checked ? isoDay(new Date()) : null;
      save(keyOf(site), stamps[site]);
      paint(site, stamps[site]);
      progress();
    });
  });

  // --- "hide values" for screen sharing; remembered across reports, or forced with #hide ---
  var toggle = document.getElementById("mask-toggle");
  var maskKey = "exposure:mask";
  function setMasked(on, remember) {
    body.classList.toggle("masked", on);
    if (toggle) {
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.textContent = on ? "Show my details" : "Hide my details";
    }
    if (remember) save(maskKey, on ? "1" : null);
  }
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      setMasked(!body.classList.contains("masked"), true);
    });
  }
  setMasked(window.location.hash === "#hide" || load(maskKey) === "1", false);

  // --- paper: open every collapsed section while printing, then put them back ---
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = all("details:not([open])");
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
})();
