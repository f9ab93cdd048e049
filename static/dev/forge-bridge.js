// gitint development host, Forge mode: the bridge inside the Custom UI resource's frame. The dev
// host (gitint/dev/forge.py) injects this script first in the resource's <head>, as Atlassian's
// host does with its own: @forge/bridge calls globalThis.__bridge.callBridge(op, payload) for
// every API and throws at load time when it is missing.
//
// callBridge posts {gitintForgeBridge: id, op, payload} to the parent page
// (static/dev/forge-host.js) and settles with its answer {gitintForgeBridge: id, answer: true,
// ok, result | error}: ok → resolve(result); not ok → reject(Error(error.message)), which makes
// invokeRemote reject the way Forge's does (401, redirects, non-JSON answers, timeout).
(function () {
  "use strict";
  var parentOrigin = window.location.origin; // the dev host page serves this frame itself
  var pending = {};
  var counter = 0;
  var prefix = "fb-" + Math.random().toString(36).slice(2) + "-";

  function bridgeError(message, details) {
    var error = new Error(message);
    error.name = "BridgeError";
    if (details && typeof details.status === "number") {
      error.status = details.status;
    }
    return error;
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) {
      return;
    }
    var data = event.data;
    if (!data || data.answer !== true || typeof data.gitintForgeBridge !== "string") {
      return;
    }
    var call = pending[data.gitintForgeBridge];
    if (!call) {
      return;
    }
    delete pending[data.gitintForgeBridge];
    if (data.ok) {
      call.resolve(data.result);
    } else {
      var error = data.error || {};
      call.reject(bridgeError(error.message || "the host refused " + call.op, error));
    }
  });

  function callBridge(op, payload) {
    return new Promise(function (resolve, reject) {
      if (typeof op !== "string") {
        reject(bridgeError("callBridge needs an operation name"));
        return;
      }
      if (window.parent === window) {
        reject(bridgeError("this page is not inside the gitint development host"));
        return;
      }
      counter += 1;
      var id = prefix + counter;
      pending[id] = { resolve: resolve, reject: reject, op: op };
      try {
        window.parent.postMessage({ gitintForgeBridge: id, op: op, payload: payload }, parentOrigin);
      } catch (error) {
        // e.g. a function in the payload (DataCloneError): Forge cannot carry it either
        delete pending[id];
        reject(bridgeError(op + ": the payload cannot be sent to the host (" + error.name + ")"));
      }
    });
  }

  Object.defineProperty(window, "__bridge", {
    value: Object.freeze({ callBridge: callBridge }),
    writable: false,
    configurable: false,
    enumerable: false,
  });
})();
