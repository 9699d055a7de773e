/* The letter template editor: a click on a value ({{ patient.first_name }}, ...) inserts it
 * at the cursor of the last field used (the letter by default); the input event makes htmx
 * refresh the preview. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("letter-form");
    if (!form) {
      return;
    }
    let last = form.querySelector("textarea");
    form.addEventListener("focusin", function (event) {
      if (event.target.matches("input[type=text], textarea")) {
        last = event.target;
      }
    });
    form.querySelectorAll("button.variable").forEach(function (button) {
      button.addEventListener("click", function () {
        last.setRangeText(button.dataset.insert, last.selectionStart, last.selectionEnd, "end");
        last.focus();
        last.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  });
})();
