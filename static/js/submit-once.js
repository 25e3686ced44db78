// A courtesy, not the guard: a form's submit button waits while its request is in flight, so a
// double click sends one request. The server makes a second one harmless anyway: creates carry
// a request token and edits a version (core/concurrency.py).
(function () {
  "use strict";

  function buttonsOf(form) {
    return form ? form.querySelectorAll("button[type=submit], button:not([type])") : [];
  }

  function setBusy(form, busy) {
    buttonsOf(form).forEach(function (button) {
      button.disabled = busy;
      if (busy) {
        button.setAttribute("aria-busy", "true");
      } else {
        button.removeAttribute("aria-busy");
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented && !form.hasAttribute("hx-post")) {
      return;
    }
    // After this tick, so the clicked button's name and value are still sent.
    window.setTimeout(function () {
      setBusy(form, true);
    }, 0);
    // A request that never answers (a download, a dropped connection) frees it after a while.
    window.setTimeout(function () {
      setBusy(form, false);
    }, 10000);
  });

  // An htmx form that stays on the page (an error redrawn elsewhere, a failed request) is
  // ready again once its answer is in.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    setBusy(form, false);
  });

  // Back to a page from the browser's cache: its buttons work again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form").forEach(function (form) {
      setBusy(form, false);
    });
  });
})();
