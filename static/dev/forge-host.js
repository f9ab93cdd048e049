// gitint development host, Forge mode: the parent page's side of the Forge bridge. It answers
// the calls static/dev/forge-bridge.js posts from the resource frame, as Jira's Forge host does:
//   getContext     → the module's context (rendered by gitint/dev/forge.py into data-forge-context)
//   invoke         → invokeRemote: POST {module, user, payload} to /dev/forge/invoke, which signs
//                    a Forge Invocation Token and calls gitint; 25 s timeout; resolves
//                    {success: true, payload: {status, headers, body}}, rejects otherwise
//   close, submit  → close the dialog;  enableTheming → the chosen theme on the frame
//                    (static/dev/theme.js)
//   navigate       → router.open (new tab, noopener) / router.navigate;  open → a URL in a new tab
//   showFlag, closeFlag, changeWindowTitle, refresh, emitReadyEvent → the obvious
// Anything else is refused. Only messages from the frame's own window are answered; every call is
// logged in window.gitintForgeHost.calls (the browser tests read it).
(function () {
  "use strict";
  var TIMEOUT_MS = 25000; // Forge: UI invocations of a remote time out after 25 s
  var host = { calls: [] };
  window.gitintForgeHost = host;

  function dialogElement() {
    return document.getElementById("devhost-dialog");
  }
  function frameElement() {
    var dialog = dialogElement();
    return dialog ? dialog.querySelector("iframe") : null;
  }
  function closeFrame() {
    var dialog = dialogElement();
    if (!dialog) {
      return false;
    }
    var url = dialog.getAttribute("data-close-url");
    dialog.remove();
    if (url) {
      window.history.replaceState(null, "", url);
    }
    return true;
  }
  function refused(message) {
    var error = new Error(message);
    error.refused = true;
    return error;
  }
  function webUrl(value) {
    var url;
    try {
      url = new URL(String(value), window.location.href);
    } catch (error) {
      throw refused("not a URL: " + value);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw refused("only http(s) URLs can be opened");
    }
    return url.href;
  }
  function openTab(value) {
    window.open(webUrl(value), "_blank", "noopener,noreferrer");
    return true;
  }

  function invoke(dialog, payload) {
    if (!payload || typeof payload !== "object") {
      throw refused("invoke needs a payload");
    }
    if (payload.functionKey !== undefined) {
      throw refused("invoke(): gitint has no Forge functions; use invokeRemote");
    }
    if (payload.invokeType !== "ui-remote-fetch") {
      throw refused("only invokeRemote is emulated (invokeType " + payload.invokeType + ")");
    }
    var request = {
      path: payload.path,
      method: payload.method,
      headers: payload.headers,
      body: payload.body,
    };
    var controller = new AbortController();
    var timer = window.setTimeout(function () {
      controller.abort();
    }, TIMEOUT_MS);
    return window
      .fetch(dialog.getAttribute("data-invoke-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          module: dialog.getAttribute("data-module"),
          user: dialog.getAttribute("data-user"),
          payload: request,
        }),
        signal: controller.signal,
        credentials: "same-origin",
      })
      .then(
        function (response) {
          return response.json().catch(function () {
            throw refused("the dev host answered HTTP " + response.status + " without JSON");
          });
        },
        function (error) {
          if (error && error.name === "AbortError") {
            throw refused("invokeRemote timed out after " + TIMEOUT_MS / 1000 + " s");
          }
          throw refused("invokeRemote failed: " + error);
        }
      )
      .then(function (answer) {
        if (answer && answer.success === true) {
          return { success: true, payload: answer.payload };
        }
        var error = (answer && answer.error) || {};
        throw refused(error.message || "invokeRemote failed");
      })
      .finally(function () {
        window.clearTimeout(timer);
      });
  }

  function showFlag(options) {
    options = options || {};
    var flags = document.getElementById("dh-flags");
    if (!flags) {
      flags = document.createElement("div");
      flags.id = "dh-flags";
      flags.className = "dh-flags";
      flags.setAttribute("role", "status");
      document.body.appendChild(flags);
    }
    var flag = document.createElement("p");
    flag.className = "notice " + (options.type === "error" ? "error" : options.type || "info");
    flag.setAttribute("data-flag-id", String(options.id));
    var title = document.createElement("strong");
    title.textContent = options.title || "";
    flag.appendChild(title);
    if (options.description) {
      flag.appendChild(document.createTextNode(" " + options.description));
    }
    flags.appendChild(flag);
    return true;
  }
  function closeFlag(options) {
    var id = options && String(options.id);
    document.querySelectorAll("#dh-flags [data-flag-id]").forEach(function (flag) {
      if (flag.getAttribute("data-flag-id") === id) {
        flag.remove();
      }
    });
    return true;
  }

  var handlers = {
    getContext: function (dialog) {
      return JSON.parse(dialog.getAttribute("data-forge-context"));
    },
    invoke: invoke,
    close: function () {
      return closeFrame();
    },
    submit: function () {
      return closeFrame();
    },
    enableTheming: function () {
      var frame = frameElement();
      var root = frame && frame.contentDocument && frame.contentDocument.documentElement;
      if (root) {
        window.gitintDevTheme.apply(root, window.gitintDevTheme.current());
      }
      return undefined;
    },
    navigate: function (dialog, payload) {
      payload = payload || {};
      if (payload.type === "new-tab") {
        return openTab(payload.url);
      }
      window.location.assign(webUrl(payload.url));
      return true;
    },
    open: function (dialog, payload) {
      var url = payload && (typeof payload === "string" ? payload : payload.url);
      return url ? openTab(url) : false; // view.open(): nothing to open in a modal
    },
    showFlag: function (dialog, payload) {
      return showFlag(payload);
    },
    closeFlag: function (dialog, payload) {
      return closeFlag(payload);
    },
    changeWindowTitle: function (dialog, payload) {
      document.title = String(payload);
      return true;
    },
    refresh: function () {
      var frame = frameElement();
      if (frame) {
        frame.contentWindow.location.reload();
      }
      return true;
    },
    emitReadyEvent: function () {
      return true;
    },
  };

  window.addEventListener("message", function (event) {
    var frame = frameElement();
    if (!frame || event.source !== frame.contentWindow) {
      return; // only the resource frame talks to this host
    }
    var data = event.data;
    if (!data || typeof data.gitintForgeBridge !== "string" || typeof data.op !== "string") {
      return;
    }
    var dialog = dialogElement();
    var source = event.source;
    var origin = event.origin === "null" ? "*" : event.origin;
    var entry = { op: data.op };
    host.calls.push(entry);
    function reply(message) {
      message.gitintForgeBridge = data.gitintForgeBridge;
      message.answer = true;
      try {
        source.postMessage(message, origin);
      } catch (error) {
        source.postMessage(
          { gitintForgeBridge: data.gitintForgeBridge, answer: true, ok: false,
            error: { message: data.op + ": the answer cannot be sent (" + error.name + ")" } },
          origin
        );
      }
    }
    var handler = Object.prototype.hasOwnProperty.call(handlers, data.op) ? handlers[data.op] : null;
    new Promise(function (resolve) {
      if (!handler) {
        throw refused(data.op + " is not emulated by the gitint development host");
      }
      resolve(handler(dialog, data.payload));
    }).then(
      function (result) {
        entry.ok = true;
        reply({ ok: true, result: result });
      },
      function (error) {
        entry.ok = false;
        entry.error = String((error && error.message) || error);
        reply({ ok: false, error: { message: entry.error } });
      }
    );
  });

  // Like Jira's modal (and the Connect frame, static/devhost.js): a dialog's frame is as tall
  // as its content, up to the window; it scrolls inside beyond that. The resource frame is
  // same-origin here (sandbox allow-same-origin), so its content is measured directly.
  function fitDialog() {
    var dialog = dialogElement();
    var frame = frameElement();
    var body = frame && frame.contentDocument && frame.contentDocument.body;
    if (!dialog || !body || !dialog.classList.contains("dh-dialog") || !body.children.length) {
      return;
    }
    var head = dialog.querySelector(".dh-frame-head");
    var room = window.innerHeight - dialog.getBoundingClientRect().top -
      (head ? head.offsetHeight : 0) - 20;
    var content = Math.ceil(Math.max(body.scrollHeight, body.getBoundingClientRect().height));
    dialog.style.height = "auto";
    frame.style.height = Math.max(40, Math.min(content, room)) + "px";
  }
  function watchFrame() {
    var frame = frameElement();
    if (!frame || !window.ResizeObserver) {
      return;
    }
    function observe() {
      var body = frame.contentDocument && frame.contentDocument.body;
      if (body) {
        new ResizeObserver(fitDialog).observe(body);
      }
    }
    frame.addEventListener("load", observe);
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") {
      observe();
    }
  }
  watchFrame();
  window.addEventListener("resize", fitDialog);

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
