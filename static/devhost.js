// gitint development host: closes the dialog frame when the app inside it posts
// {type: "closeDialog"} (static/app.js does on Cancel/Escape), or on Escape / the Close link here.
(function () {
  "use strict";
  function closeFrame() {
    var dialog = document.getElementById("devhost-dialog");
    if (!dialog) {
      return;
    }
    var url = dialog.getAttribute("data-close-url");
    dialog.remove();
    if (url) {
      window.history.replaceState(null, "", url);
    }
  }
  window.addEventListener("message", function (event) {
    if (event.origin === window.location.origin && event.data && event.data.type === "closeDialog") {
      closeFrame();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-devhost-close]")) {
      event.preventDefault();
      closeFrame();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      closeFrame();
    }
  });
})();
