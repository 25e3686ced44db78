// Rupture forms (templates/ruptures/_form_fields.html): show only the chosen type's 3RS
// markers, on the page, without a round trip to the server.
//
// Both groups are in the page from the start. The other type's group is hidden and its
// checkboxes disabled, so they are neither seen nor posted, but their ticks stay in the page:
// changing the type back shows them again as they were. With no type chosen yet both show,
// and a group the server refused (data-has-errors) stays in view beside its message. Without
// JavaScript both groups show and RuptureForm.clean refuses markers of the other type.
//
// Only the `hidden` and `disabled` properties change here, never a style attribute: the
// content security policy forbids inline styles.
(function () {
  "use strict";

  function chosenType(markers) {
    var form = markers.closest("form");
    var checked = form && form.querySelector("[data-rupture-type] input[type=radio]:checked");
    return checked ? checked.value : "";
  }

  function sync(markers) {
    var type = chosenType(markers);
    markers.querySelectorAll("[data-marker-type]").forEach(function (group) {
      var shown = !type || group.dataset.markerType === type || group.hasAttribute("data-has-errors");
      group.hidden = !shown;
      group.querySelectorAll("input").forEach(function (input) {
        input.disabled = !shown;
      });
    });
  }

  function syncWithin(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.matches && root.matches("[data-rupture-markers]")) {
      sync(root);
    }
    root.querySelectorAll("[data-rupture-markers]").forEach(sync);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.closest("[data-rupture-type]")) {
      syncWithin(target.closest("form"));
    }
  });
  // Content htmx swaps in (a fresh form after a save, a form redrawn with errors).
  document.addEventListener("htmx:load", function (event) {
    syncWithin(event.target);
  });
  // A page restored from the back-forward cache keeps the choices made before leaving it.
  window.addEventListener("pageshow", function () {
    syncWithin(document);
  });
  syncWithin(document);
})();
