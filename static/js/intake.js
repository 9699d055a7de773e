/* Front-desk intake: keyboard-first typeaheads and Enter-to-save.
 *
 * htmx fetches the typeahead results; this file only adds the keyboard and the choosing.
 * Without it the form still works: plain POST, "Find" buttons that open search pages.
 *
 * Enter, by design:
 *  - in a typeahead whose list has an option highlighted (with the arrow keys): picks it;
 *  - anywhere else in the form (including a typeahead with nothing highlighted): saves.
 *    A list that merely popped open never swallows the Enter meant to save.
 *  - Shift+Enter: "Save and new".
 */
(function () {
  "use strict";

  function typeahead(input, onChoose) {
    const list = document.getElementById(input.getAttribute("aria-controls"));
    let active = -1;
    const options = () => Array.from(list.querySelectorAll('[role="option"]'));

    function setActive(index) {
      const opts = options();
      active = index >= 0 && index < opts.length ? index : -1;
      opts.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", opts[active].id);
        opts[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function isOpen() {
      return !list.hidden;
    }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      setActive(-1);
    }
    function openIfUseful() {
      // A late answer must not pop open under a field the user has already left.
      if (options().length && document.activeElement === input && input.value.trim()) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      } else {
        close();
      }
    }
    function choose(option) {
      close();
      onChoose(option);
    }

    // Fresh results: nothing highlighted, so Enter keeps meaning "save" until an arrow key.
    new MutationObserver(() => {
      setActive(-1);
      openIfUseful();
    }).observe(list, { childList: true });

    input.addEventListener("input", () => {
      setActive(-1);
      if (!input.value.trim()) {
        list.replaceChildren();
      }
    });
    input.addEventListener("keydown", (event) => {
      const opts = options();
      switch (event.key) {
        case "ArrowDown":
          if (!opts.length) return;
          event.preventDefault();
          openIfUseful();
          setActive(Math.min(active + 1, opts.length - 1));
          break;
        case "ArrowUp":
          if (!isOpen()) return;
          event.preventDefault();
          setActive(active - 1);
          break;
        case "Enter":
          if (isOpen() && active >= 0) {
            event.preventDefault();
            choose(opts[active]);
          } else {
            close(); // and let the form save
          }
          break;
        case "Tab":
          if (isOpen() && active >= 0 && !event.shiftKey) {
            event.preventDefault();
            choose(opts[active]);
          } else {
            close();
          }
          break;
        case "Escape":
          if (isOpen()) {
            event.preventDefault();
            close();
          }
          break;
      }
    });
    input.addEventListener("blur", close);
    // Keep the focus in the input while clicking an option.
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = event.target.closest('[role="option"]');
      if (option) choose(option);
    });
    return { close };
  }

  function setUp(form) {
    const $ = (selector) => form.querySelector(selector);
    const field = (name) => form.elements.namedItem(name);
    const save = $('button.primary[name="then"]');
    const saveNew = $('button[name="then"][value="new"]');
    const source = field("source_type");

    // -- patient ----------------------------------------------------------------------
    const patientId = field("patient");
    const patientInput = field("patient_q");
    const patientChosen = $("#patient-chosen");
    const patientFind = $("#patient-find");
    const newPatient = $("#new-patient");
    const duplicates = $("#duplicate-warning");

    function showPatient(id, chip) {
      patientId.value = id;
      patientChosen.replaceChildren(chip.content.cloneNode(true));
      patientChosen.hidden = false;
      patientFind.hidden = true;
      newPatient.hidden = true;
      newPatient.disabled = true;
      duplicates.replaceChildren();
      source.focus();
    }
    function clearPatient() {
      patientId.value = "";
      patientChosen.replaceChildren();
      patientChosen.hidden = true;
      patientFind.hidden = false;
      newPatient.hidden = false;
      newPatient.disabled = false;
      patientInput.value = "";
      patientInput.focus();
    }
    function startNewPatient(query) {
      // "Jane Roe" or "Roe, Jane" as typed in the search: fill the blanks, don't overwrite.
      const text = query.trim();
      let first = "";
      let last = "";
      if (/^[\d\s().+\/-]+$/.test(text)) {
        if (!field("phone").value) field("phone").value = text;
      } else if (text.includes(",")) {
        [last, first] = text.split(",").map((part) => part.trim());
      } else {
        const words = text.split(/\s+/);
        last = words.pop();
        first = words.join(" ");
      }
      if (first && !field("first_name").value) field("first_name").value = first;
      if (last && !field("last_name").value) field("last_name").value = last;
      const next = ["first_name", "last_name", "date_of_birth"].find((n) => !field(n).value);
      field(next || "date_of_birth").focus();
    }
    typeahead(patientInput, (option) => {
      if (option.dataset.action === "new") startNewPatient(option.dataset.q);
      else showPatient(option.dataset.value, option.querySelector("template"));
    });
    duplicates.addEventListener("click", (event) => {
      const use = event.target.closest("[data-use-patient]");
      if (!use) return;
      event.preventDefault();
      showPatient(use.value, use.parentElement.querySelector("template"));
    });

    // -- source, office and doctor ------------------------------------------------------
    const officeBlock = $("#office-block");
    const officeSources = officeBlock.dataset.officeSources.split(" ");
    const officeId = field("referring_office");
    const officeInput = field("office_q");
    const officeChosen = $("#office-chosen");
    const officeFind = $("#office-find");
    const doctorField = $("#doctor-field");
    const doctor = field("referring_provider");
    const newOffice = $("#new-office");
    const newDoctor = $("#new-doctor");
    const noOfficeOptions = '<option value="">— choose the office first —</option>';

    function syncSource() {
      officeBlock.hidden = Boolean(source.value) && !officeSources.includes(source.value);
    }
    function syncNewDoctor() {
      const newOfficeMode = !officeId.value && newOffice.open;
      doctorField.hidden = newOfficeMode;
      newDoctor.hidden = !(newOfficeMode || doctor.value === "new");
    }
    function clearNewOffice() {
      for (const name of ["new_office_name", "new_office_zip", "new_office_phone", "new_office_email"]) {
        field(name).value = "";
      }
      newOffice.open = false;
    }
    function showOffice(option) {
      officeId.value = option.dataset.value;
      officeChosen.replaceChildren(
        option.querySelector('template[data-part="chip"]').content.cloneNode(true)
      );
      officeChosen.hidden = false;
      officeFind.hidden = true;
      doctor.replaceChildren(
        option.querySelector('template[data-part="providers"]').content.cloneNode(true)
      );
      doctor.value = option.dataset.provider || "";
      clearNewOffice();
      newOffice.hidden = true;
      syncNewDoctor();
      doctor.focus();
    }
    function startNewOffice(query) {
      officeId.value = "";
      newOffice.hidden = false;
      newOffice.open = true;
      if (!field("new_office_name").value) field("new_office_name").value = query.trim();
      syncNewDoctor();
      field("new_office_name").focus();
    }
    function clearOffice() {
      officeId.value = "";
      officeChosen.replaceChildren();
      officeChosen.hidden = true;
      officeFind.hidden = false;
      doctor.innerHTML = noOfficeOptions;
      newOffice.hidden = false;
      syncNewDoctor();
      officeInput.value = "";
      officeInput.focus();
    }
    typeahead(officeInput, (option) => {
      if (option.dataset.action === "new") startNewOffice(option.dataset.q);
      else showOffice(option);
    });
    source.addEventListener("change", syncSource);
    doctor.addEventListener("change", syncNewDoctor);
    newOffice.addEventListener("toggle", syncNewDoctor);
    // The "add an office" summary is reached from the typeahead's "New office" option:
    // out of the tab order, so the usual path has one stop fewer.
    newOffice.querySelector("summary").tabIndex = -1;
    syncSource();
    syncNewDoctor();

    form.addEventListener("click", (event) => {
      const clear = event.target.closest("[data-clear]");
      if (!clear) return;
      event.preventDefault();
      if (clear.dataset.clear === "patient") clearPatient();
      else clearOffice();
    });

    // -- Enter saves ------------------------------------------------------------------
    form.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.defaultPrevented || event.isComposing || event.altKey) {
        return;
      }
      if (event.target.closest("textarea, button, a, summary")) return;
      event.preventDefault();
      form.requestSubmit(event.shiftKey ? saveNew : save);
    });
    // One referral per press, however impatient the keyboard.
    let submitting = false;
    form.addEventListener("submit", (event) => {
      if (submitting) {
        event.preventDefault();
        return;
      }
      submitting = true;
      form.classList.add("is-saving");
    });
    window.addEventListener("pageshow", () => {
      submitting = false;
      form.classList.remove("is-saving");
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("intake-form");
    if (form) setUp(form);
  });
})();
