// garita review console: keyboard shortcuts for the common path (no inline script: the
// page's Content-Security-Policy allows only this file). "n" follows the next-page link.
document.addEventListener("keydown", function (event) {
  if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  if (event.key === "n") {
    var next = document.querySelector("a[rel=next]");
    if (next) { next.click(); }
  }
});
