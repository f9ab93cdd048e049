// gitint development host only: a local stand-in for Atlassian's Connect JavaScript client
// (https://connect-cdn.atl-paas.net/all.js), loaded in its place for the dev host's tenant so
// the handshake is exercised offline. It implements what gitint uses of AP, speaking to the
// parent (static/devhost.js) with postMessage, origin and source checked both ways:
//   frame -> parent  {gitintAP: "init"}                      announce (repeated until answered)
//   parent -> frame  {gitintAP: "ready"}                     AP is ready; queued calls go out
//   frame -> parent  {gitintAP: "resize", height: <px>}      AP.resize() / content height changed
//   frame -> parent  {gitintAP: "dialog.close"}              AP.dialog.close()
//   frame -> parent  {gitintAP: "theming.initializeTheming", id: <n>}  AP.theming.initializeTheming()
//   parent -> frame  {gitintAP: "answer", id: <n>, theme?}   the answer to a call with an id; for
//                    theming, theme = {colorMode, contrastMode, tokens: {"--ds-…": value}}: the dev
//                    host's chosen theme, set on <html> (data-color-mode, data-contrast-mode="more"
//                    for increased contrast, the token values) as Jira's is
// The dev host frames the app from its own origin, so the parent's origin is this page's.
// Like all.js, only content inside .ac-content is measured (else the body), automatically on
// every change of its size (ResizeObserver) or of what it holds (MutationObserver).
(function () {
  "use strict";
  var parentOrigin = window.location.origin;
  var framed = window.parent !== window;
  var ready = false;
  var queue = [];
  var answers = {};
  var nextId = 1;
  var lastHeight = -1;

  function post(message) {
    if (framed) {
      window.parent.postMessage(message, parentOrigin);
    }
  }
  function send(message) {
    if (ready) {
      post(message);
    } else {
      queue.push(message);
    }
  }
  function call(name, callback) {
    var id = nextId++;
    answers[id] = callback || function () {};
    send({ gitintAP: name, id: id });
  }
  function content() {
    return document.querySelector(".ac-content") || document.body;
  }
  function contentHeight() {
    var element = content();
    if (!element) {
      return 0;
    }
    // its box, or further down what overflows it (an open list), so nothing is cut off
    var box = element.getBoundingClientRect();
    var margin = parseFloat(window.getComputedStyle(element).marginBottom) || 0;
    return Math.ceil(box.top + window.scrollY + Math.max(box.height, element.scrollHeight) + margin);
  }
  function resizeToContent() {
    var height = contentHeight();
    if (height && height !== lastHeight) {
      lastHeight = height;
      send({ gitintAP: "resize", height: height });
    }
  }

  window.AP = {
    resize: function (width, height) {
      var px = parseInt(height, 10);
      if (px > 0) {
        lastHeight = px;
        send({ gitintAP: "resize", height: px });
      } else {
        resizeToContent();
      }
    },
    sizeToParent: function () {},
    dialog: {
      close: function () {
        send({ gitintAP: "dialog.close" });
      }
    },
    theming: {
      initializeTheming: function () {
        call("theming.initializeTheming", applyTheme);
      }
    }
  };

  function applyTheme(answer) {
    var theme = answer && answer.theme;
    if (!theme || typeof theme.colorMode !== "string" || !theme.tokens) {
      return;
    }
    var root = document.documentElement;
    root.setAttribute("data-color-mode", theme.colorMode);
    if (theme.contrastMode === "more") {
      root.setAttribute("data-contrast-mode", "more");
    } else {
      root.removeAttribute("data-contrast-mode");
    }
    root.setAttribute("data-theme", "dark:dark light:light spacing:spacing typography:typography");
    Object.keys(theme.tokens).forEach(function (name) {
      if (name.indexOf("--ds-") === 0) {
        root.style.setProperty(name, String(theme.tokens[name]));
      }
    });
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!framed || event.source !== window.parent || event.origin !== parentOrigin ||
        !data || typeof data.gitintAP !== "string") {
      return;
    }
    if (data.gitintAP === "ready" && !ready) {
      ready = true;
      queue.splice(0).forEach(post);
      document.documentElement.setAttribute("data-ap-ready", "");
      whenLoaded(startResizing);
    } else if (data.gitintAP === "answer" && answers[data.id]) {
      var callback = answers[data.id];
      delete answers[data.id];
      callback(data);
    }
  });

  function whenLoaded(run) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", run);
    } else {
      run();
    }
  }
  var scheduled = false;
  function soon() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(function () {
        scheduled = false;
        resizeToContent();
      });
    }
  }
  function startResizing() {
    resizeToContent();
    var element = content();
    if (window.ResizeObserver && element) {
      new ResizeObserver(soon).observe(element);
    }
    if (window.MutationObserver && element) { // what overflows the box (an open list) too
      new MutationObserver(soon).observe(element, {
        attributes: true, childList: true, characterData: true, subtree: true
      });
    }
  }

  // the handshake: announce until the parent answers (its script may not have run yet)
  if (framed) {
    var tries = 0;
    var announce = function () {
      if (!ready && tries++ < 100) {
        post({ gitintAP: "init" });
        window.setTimeout(announce, 100);
      }
    };
    announce();
  }
})();
