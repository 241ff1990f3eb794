// Keyboard triage for the review pages: j/k move, o/Enter open, c/d/e decide, ? help, Esc cancel.
// No inline script anywhere (the pages' Content-Security-Policy forbids it); no listing text is read here.
(function () {
  "use strict";
  var ACTIONS = { c: "confirm", d: "dismiss", e: "escalate" };
  var page = document.body.getAttribute("data-page");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.flag-row"));
  var form = document.getElementById("decide-form");
  var help = document.getElementById("help");
  var current = -1;

  function select(i) {
    if (!rows.length) return;
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (current >= 0) rows[current].classList.remove("selected");
    current = i;
    rows[i].classList.add("selected");
    rows[i].scrollIntoView({ block: "nearest" });
  }

  function toggleHelp() { help.hidden = !help.hidden; }

  function startDecision(action) {
    if (!form) return;
    if (page === "queue") {
      if (current < 0) return;
      var id = rows[current].getAttribute("data-flag-id");
      form.action = form.getAttribute("data-base") + id + "/decide";
      document.getElementById("decide-target").textContent = "on flag " + id;
    }
    form.classList.add("active");
    document.getElementById("act-" + action).checked = true;
    document.getElementById("reason").focus();
  }

  function cancel() {
    if (form) { form.classList.remove("active"); }
    if (document.activeElement) document.activeElement.blur();
    if (help) help.hidden = true;
  }

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
    if (ev.key === "Escape") { cancel(); return; }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "?") { toggleHelp(); ev.preventDefault(); return; }
    if (page === "queue" && (ev.key === "j" || ev.key === "k")) {
      select(current < 0 ? 0 : current + (ev.key === "j" ? 1 : -1));
      ev.preventDefault();
      return;
    }
    if (page === "queue" && (ev.key === "o" || ev.key === "Enter") && current >= 0) {
      window.location.href = rows[current].getAttribute("data-href");
      ev.preventDefault();
      return;
    }
    if (ACTIONS[ev.key]) { startDecision(ACTIONS[ev.key]); ev.preventDefault(); }
  });

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (ev) { if (ev.target.tagName !== "A") select(i); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".help-toggle"), function (b) {
    b.addEventListener("click", toggleHelp);
  });
  if (page === "queue" && rows.length) select(0);
})();
