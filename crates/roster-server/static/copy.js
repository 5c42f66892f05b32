// Copy buttons of the device setup pages: each `button.copy[data-copy=ID]` copies the value of
// the element with that id. The buttons stay hidden where this script does not run (the
// fields are read-only and can be selected by hand); no inline script, as the CSP demands.
(function () {
  "use strict";

  function copied(button) {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || label;
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var text = field.value !== undefined ? field.value : field.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () { field.select(); });
    } else {
      // Plain-http servers: the clipboard API is missing, the old command still works.
      field.select();
      try { if (document.execCommand("copy")) { copied(button); } } catch (e) { /* selected for the reader */ }
    }
  }

  function init() {
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
