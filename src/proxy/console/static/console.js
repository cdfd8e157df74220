// garita review console: keyboard shortcuts for the common path, as each page lists them
// (no inline script: the page's Content-Security-Policy allows only this file).
// An element with data-key="x" is clicked (a link or a button) or focused (a field) when
// x is pressed; "n" follows the next-page link, "o" opens the first review. A form with
// data-confirm asks before it is sent, by key or by click.
document.addEventListener("keydown", function (event) {
  // Keys typed into a field are the field's (a ticked checkbox leaves the keys to the page).
  var typing = event.target.closest("textarea, select, input:not([type=checkbox]):not([type=radio])");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  var target = null;
  if (event.key === "n") {
    target = document.querySelector("a[rel=next]");
  } else if (event.key === "o") {
    target = document.querySelector("a[data-open]");
  } else {
    target = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
  }
  if (!target) {
    return;
  }
  event.preventDefault();
  if (target.matches("input, textarea, select")) {
    target.focus();
  } else {
    target.click();
  }
});
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
