// The desk's keyboard shortcuts: an element with data-shortcut="n" is clicked (a link) or
// focused (a form field) when that key is pressed outside a text field. A file, not an inline
// script: the Content-Security-Policy allows scripts from the desk's own static files only.
(function () {
  "use strict";
  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var element = document.querySelector('[data-shortcut="' + event.key.toLowerCase() + '"]');
    if (!element) {
      return;
    }
    event.preventDefault();
    var panel = element.closest("details");
    if (panel) {
      panel.open = true;
    }
    if (element.tagName === "A") {
      element.click();
    } else {
      element.focus();
      element.scrollIntoView({block: "center"});
    }
  });
})();
