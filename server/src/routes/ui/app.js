// rreg web UI: the only script. Copy buttons (data-copy="ID") copy the text of element ID.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (b) {
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (el && navigator.clipboard) navigator.clipboard.writeText(el.textContent);
  }
});
