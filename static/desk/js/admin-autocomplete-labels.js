// The admin's autocomplete boxes (select2) name themselves by the text they show, which is empty
// until something is chosen: a screen reader then announces an unnamed box. Each box is named by
// its field's label as well (aria-labelledby: the label, then the chosen text).
// Run after the admin's autocomplete.js has built the boxes (jQuery's ready handlers run from
// timers queued before the page's load event).
"use strict";
function nameAutocompleteBoxes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
        const label = document.querySelector('label[for="' + select.id + '"]');
        const container = select.nextElementSibling;
        if (!label || !container) {
            return;
        }
        const box = container.querySelector('[role="combobox"]');
        if (!box) {
            return;
        }
        label.id = label.id || select.id + "_label";
        const shown = box.getAttribute("aria-labelledby") || "";
        if (!shown.split(" ").includes(label.id)) {
            box.setAttribute("aria-labelledby", (label.id + " " + shown).trim());
        }
        // The text shown inside (a read-only textbox) is named by the label too.
        const rendered = box.querySelector('[role="textbox"]');
        if (rendered) {
            rendered.setAttribute("aria-labelledby", label.id);
        }
    });
}
window.addEventListener("load", function () {
    window.setTimeout(nameAutocompleteBoxes, 0);
});
