// gitint: the one small script. Sends the context token on every htmx request, shows a message
// for server errors, and closes dialogs (AP.dialog.close inside Jira, a closeDialog event on the
// dev host).
(function () {
  "use strict";
  function contextToken() {
    var meta = document.querySelector('meta[name="gitint-context"]');
    return meta ? meta.content : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-Gitint-Context"] = contextToken();
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var message = "Something went wrong on our side. Your input is kept; please try again.";
    if (status === 401) {
      message = "Your Jira session has expired. Close this window and open it again from Jira.";
    } else if (status === 403) {
      message = "You do not have permission to do this.";
    } else if (status === 404) {
      message = "That item no longer exists. Reload the page.";
    } else if (status === 429) {
      message = "Too many attempts. Wait a few minutes and try again.";
    }
    var flash = document.getElementById("flash");
    if (flash) {
      flash.textContent = message;
      flash.className = "notice error";
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (flash) {
      flash.textContent = "The server could not be reached. Your input is kept; please try again.";
      flash.className = "notice error";
    }
  });
  window.gitintCloseDialog = function () {
    if (window.AP && window.AP.dialog) {
      window.AP.dialog.close();
    } else if (window.parent !== window) {
      window.parent.postMessage({ type: "closeDialog" }, window.location.origin);
    }
    document.dispatchEvent(new CustomEvent("closeDialog"));
  };
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-close-dialog]");
    if (target) {
      event.preventDefault();
      window.gitintCloseDialog();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("dialog")) {
      window.gitintCloseDialog();
    }
  });
})();
