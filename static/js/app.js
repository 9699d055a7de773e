/* Behaviour any page may use, declared with data attributes: the Content-Security-Policy
 * forbids inline handlers (onclick=, onchange=, ...), so pages say what they want and this
 * file does it. Listeners are delegated on the document, so they also serve content that
 * htmx swaps in later.
 *
 *   <select data-autosubmit>            submits its form when changed
 *   <form data-confirm="Question?">     asks before submitting; Cancel keeps it unsent
 *   <input data-select-on-focus>        selects its text when focused or clicked
 *   <button data-copy="#field-id">      copies the field's value, then reads "Copied"
 *   <input type=checkbox data-check-all="css selector">  ticks or unticks those boxes
 *   <select data-picks-radio>           inside a <label>: picking from it ticks the label's radio
 *   <details data-menu>                 (the phone's Menu, base.html) closes on Escape, giving
 *                                       the focus back to its button, and on a click outside it
 */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.matches("[data-autosubmit]") && el.form) {
      el.form.submit();
    }
    if (el.matches("[data-picks-radio]")) {
      const radio = el.closest("label").querySelector("input[type=radio]");
      if (radio) {
        radio.checked = true;
      }
    }
    if (el.matches("[data-check-all]")) {
      document.querySelectorAll(el.dataset.checkAll).forEach(function (box) {
        box.checked = el.checked;
      });
    }
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation(); // htmx must not send it either
    }
  }, true);

  function selectField(event) {
    if (event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  }
  document.addEventListener("focusin", selectField);
  document.addEventListener("click", selectField);

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    const field = document.querySelector(button.dataset.copy);
    field.select();
    const done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  });

  // The Menu opens and closes without any script (it is a <details>); this only adds what
  // people expect of a menu that covers the page.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.open = false;
      }
    });
  });
})();
