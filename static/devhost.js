// gitint development host: closes the dialog frame when the app inside it posts
// {type: "closeDialog"} (static/app.js does on Cancel/Escape without AP), or on Escape / the
// Close link here. It is also the parent side of the Connect stand-in (static/dev/connect-all.js):
// it answers the frame's handshake, sets the iframe's height to the content height the frame
// reports (within the window), closes the dialog on AP.dialog.close(), answers
// AP.theming.initializeTheming() with the chosen theme (static/dev/theme.js) and other calls.
(function () {
  "use strict";
  var MARGIN = 20; // px kept free below the frame
  var reportedHeight = 0;

  function dialogElement() {
    return document.getElementById("devhost-dialog");
  }
  function frameElement() {
    var dialog = dialogElement();
    return dialog ? dialog.querySelector("iframe") : null;
  }
  function frameOrigin(iframe) {
    return new URL(iframe.getAttribute("src"), window.location.href).origin;
  }
  function closeFrame() {
    var dialog = dialogElement();
    if (!dialog) {
      return;
    }
    var url = dialog.getAttribute("data-close-url");
    dialog.remove();
    if (url) {
      window.history.replaceState(null, "", url);
    }
  }
  function fitFrame() {
    var dialog = dialogElement();
    var iframe = frameElement();
    if (!dialog || !iframe || !reportedHeight) {
      return;
    }
    var head = dialog.querySelector(".dh-frame-head");
    var room = window.innerHeight - dialog.getBoundingClientRect().top -
      (head ? head.offsetHeight : 0) - MARGIN;
    dialog.style.height = "auto"; // the dialog follows its frame
    iframe.style.height = Math.max(40, Math.min(reportedHeight, room)) + "px";
  }
  function fromStandIn(event) {
    var iframe = frameElement();
    return iframe && event.source === iframe.contentWindow &&
      event.origin === frameOrigin(iframe) && event.data &&
      typeof event.data.gitintAP === "string";
  }
  function answer(event, message) {
    event.source.postMessage(message, event.origin);
  }

  window.addEventListener("message", function (event) {
    if (fromStandIn(event)) {
      var data = event.data;
      if (data.gitintAP === "init") {
        frameElement().setAttribute("data-ap-ready", "");
        answer(event, { gitintAP: "ready" });
      } else if (data.gitintAP === "resize" && data.height > 0) {
        reportedHeight = Math.ceil(data.height);
        fitFrame();
      } else if (data.gitintAP === "dialog.close") {
        closeFrame();
      } else if (data.gitintAP === "theming.initializeTheming" && data.id) {
        answer(event, { gitintAP: "answer", id: data.id, theme: window.gitintDevTheme.current() });
      } else if (data.id) {
        answer(event, { gitintAP: "answer", id: data.id });
      }
      return;
    }
    if (event.origin === window.location.origin && event.data && event.data.type === "closeDialog") {
      closeFrame();
    }
  });
  window.addEventListener("resize", fitFrame);
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
