// The import wizard's enhancements; every page works without them.
// Columns page: the "order" select of a name column shows only when the column is mapped to
// a split field. File and dates pages: a changed select resubmits its form at once, so the
// new encoding/format shows without a separate click.
(function () {
  "use strict";
  const SPLIT_TARGETS = new Set(["patient_name"]);

  function syncSplits() {
    document.querySelectorAll("[data-split-for]").forEach(function (span) {
      const select = document.getElementById(span.dataset.splitFor);
      if (select) span.hidden = !SPLIT_TARGETS.has(select.value);
    });
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches("[data-testid='columns-form'] select")) syncSplits();
    if (target.matches("[data-testid='dates-form'] select")) {
      const again = target.form.querySelector("button[name='preview']");
      if (again) again.click();
    }
  });
  document.addEventListener("DOMContentLoaded", syncSplits);
})();
