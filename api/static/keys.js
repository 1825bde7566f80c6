// Keyboard shortcuts for the reviewer UI. Plain script, no dependencies.
// Case page: c (arm Confirm; Enter confirms), r (reject form), o (override form), j/k (next/previous case).
// Queue page: j/k move between rows, Enter opens the highlighted case.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function openPanel(id, focusSelector) {
    var panel = document.getElementById(id);
    if (!panel) return;
    panel.open = true;
    var field = panel.querySelector(focusSelector);
    if (field) field.focus();
    panel.scrollIntoView({ block: "nearest" });
  }

  function go(which) {
    var head = document.getElementById("case-head");
    var url = head && head.dataset[which === "next" ? "nextUrl" : "prevUrl"];
    if (!url) return;
    var release = document.getElementById("release-form");
    if (release) {
      // Leaving a case we hold: give it back so others can take it, then open the target.
      release.elements.go.value = url.split("/").pop();
      release.submit();
    } else {
      window.location.assign(url);
    }
  }

  function armConfirm() {
    var button = document.getElementById("confirm-btn");
    if (!button) return;
    button.classList.add("armed");
    document.getElementById("confirm-hint").hidden = false;
    button.focus();
  }

  function disarm() {
    var button = document.getElementById("confirm-btn");
    if (button) button.classList.remove("armed");
    var hint = document.getElementById("confirm-hint");
    if (hint) hint.hidden = true;
  }

  function moveRow(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("table.queue a.open"));
    if (!links.length) return;
    var i = links.indexOf(document.activeElement);
    i = i < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, i + step));
    links.forEach(function (a) { a.closest("tr").classList.remove("kbd-row"); });
    links[i].closest("tr").classList.add("kbd-row");
    links[i].focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      disarm();
      if (typing(event.target)) event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var onCase = !!document.getElementById("case-head");
    var key = event.key;
    if (onCase) {
      if (key === "c") { event.preventDefault(); armConfirm(); }
      else if (key === "r") { event.preventDefault(); disarm(); openPanel("reject", "select"); }
      else if (key === "o") { event.preventDefault(); disarm(); openPanel("override", "select"); }
      else if (key === "j") { event.preventDefault(); go("next"); }
      else if (key === "k") { event.preventDefault(); go("prev"); }
    } else if (document.querySelector("table.queue")) {
      if (key === "j") { event.preventDefault(); moveRow(1); }
      else if (key === "k") { event.preventDefault(); moveRow(-1); }
    }
  });

  // Clicking Previous/Next also hands back the case being left.
  document.querySelectorAll("a[data-nav]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!document.getElementById("release-form")) return;
      event.preventDefault();
      go(link.dataset.nav);
    });
  });

  document.addEventListener("focusout", function (event) {
    if (event.target && event.target.id === "confirm-btn") disarm();
  });

  // After a failed reject/override the server sends us back to #reject / #override: reopen that form.
  if (location.hash === "#reject" || location.hash === "#override") {
    openPanel(location.hash.slice(1), "select");
  }
})();
