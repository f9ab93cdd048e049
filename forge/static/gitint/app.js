// gitint: the one small script. Sends the context token on every htmx request, shows a message
// for server errors, applies Jira's theme, and closes dialogs (AP.dialog.close inside Jira, a closeDialog event on the
// dev host).
(function () {
  "use strict";
  // Inside Jira (Connect) the host applies its theme (light, dark, increased contrast): the
  // design tokens app.css uses. The Forge resource calls view.theme.enable() instead.
  if (window.AP && window.AP.theming && window.AP.theming.initializeTheming) {
    window.AP.theming.initializeTheming();
  }
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
    if (window.gitintHost && window.gitintHost.close) {
      window.gitintHost.close(); // the Forge frame (forge/src/gitint-forge.js): view.close()
    } else if (window.AP && window.AP.dialog) {
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

// --- personal access tokens: Cancel in the PAT setup fragment (dialogs and /pats). It removes
// the fragment and dispatches "patCancelled" {integration, target} on document.body, so a dialog
// can show its kept form again; on /pats focus returns to the button that opened the editor.
(function () {
  "use strict";
  var opener = null;
  document.addEventListener("click", function (event) {
    var edit = event.target.closest("[data-pat-edit]");
    if (edit) {
      opener = edit;
      return;
    }
    var cancel = event.target.closest("[data-pat-cancel]");
    if (!cancel) {
      return;
    }
    event.preventDefault();
    var setup = cancel.closest("[data-pat-setup]");
    var detail = { integration: null, target: null };
    if (setup) {
      detail = { integration: Number(setup.dataset.integration), target: setup.dataset.target };
      setup.remove();
    }
    document.body.dispatchEvent(new CustomEvent("patCancelled", { detail: detail }));
    if (opener && document.body.contains(opener)) {
      opener.focus();
    }
  });
})();

// --- dialogs (create branch / pull request): the Repository combobox (arrow keys, Enter, Esc,
// "More repositories…"), the check of a branch typed by hand, and hiding the form while the PAT
// setup fragment shows in #pat-area (the server re-renders the form when "patSaved" fires).
(function () {
  "use strict";
  function listboxOf(input) {
    return document.getElementById(input.getAttribute("aria-controls"));
  }
  function optionsOf(listbox) { // the ones that can be chosen ("No repository matches" cannot)
    return Array.prototype.slice.call(listbox.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));
  }
  function setOpen(input, open) {
    var listbox = listboxOf(input);
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (listbox) {
      listbox.hidden = !open;
    }
    if (!open) {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function activate(input, option) {
    optionsOf(listboxOf(input)).forEach(function (each) {
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  }
  function choose(input, option) {
    if (!option || option.getAttribute("aria-disabled") === "true") {
      return;
    }
    var listbox = listboxOf(input);
    if (option.hasAttribute("data-more")) {
      listbox.setAttribute("data-activate", String(optionsOf(listbox).indexOf(option)));
      htmx.trigger(option, "more");
      option.setAttribute("aria-disabled", "true");
      return;
    }
    input.value = option.getAttribute("data-label");
    input.setAttribute("data-chosen", input.value);
    setOpen(input, false);
    var valueInput = document.getElementById(input.getAttribute("data-value-input"));
    if (valueInput) { // the repository: its id, and the form follows
      valueInput.value = option.getAttribute("data-value");
      input.dispatchEvent(new CustomEvent("repositoryChosen", { bubbles: true }));
    } else {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  function comboboxOf(element) {
    return element && element.matches && element.matches('input[role="combobox"][aria-controls]')
      ? element : null;
  }
  document.addEventListener("keydown", function (event) {
    var input = comboboxOf(event.target);
    if (!input || !listboxOf(input)) {
      return;
    }
    var listbox = listboxOf(input);
    var all = optionsOf(listbox);
    var open = input.getAttribute("aria-expanded") === "true";
    var index = all.indexOf(listbox.querySelector('[aria-selected="true"]'));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!all.length) {
        openList(input);
        return;
      }
      setOpen(input, true);
      var next = event.key === "ArrowDown" ? Math.min(index + 1, all.length - 1) : Math.max(index - 1, 0);
      activate(input, all[next]);
    } else if (event.key === "Enter" && open) {
      var option = all[index] || (input.hasAttribute("data-options-from") ? null : all[0]);
      setOpen(input, false);
      if (option) {
        event.preventDefault();
        choose(input, option);
      }
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      event.stopPropagation(); // close the list, not the dialog
      setOpen(input, false);
    }
  }, true);
  document.addEventListener("input", function (event) {
    var input = comboboxOf(event.target);
    if (input && input.hasAttribute("data-options-from")) {
      fillLocal(input, false); // what is typed may also be a branch not listed: none active
      setOpen(input, listboxOf(input).children.length > 0);
    } else if (input && input.value !== input.getAttribute("data-chosen")) {
      document.getElementById(input.getAttribute("data-value-input")).value = "";
    }
  });
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest('[role="listbox"]')) {
      event.preventDefault(); // keep the focus in the input
    }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest('[role="listbox"] [role="option"]');
    if (option) {
      var input = document.querySelector('[aria-controls="' + option.parentNode.id + '"]');
      if (input) {
        choose(input, option);
      }
    }
  });
  // Like a select: tabbing into the field or clicking it opens its list, the first 20 without
  // typing (the whole list when the field shows the chosen repository, not only that one); a
  // form arriving with the focus in the field does not.
  var tabbed = false;
  document.addEventListener("keydown", function (event) { tabbed = event.key === "Tab"; }, true);
  // A branch field's options come from the branches already loaded (#branch-list): the first
  // 20 containing what is typed, or the first 20 when the field shows what was chosen.
  function fillLocal(input, all) {
    var source = document.getElementById(input.getAttribute("data-options-from"));
    var typed = all ? "" : input.value.toLowerCase();
    var names = Array.prototype.map.call(source ? source.options : [], function (option) {
      return option.value;
    }).filter(function (name) {
      return name.toLowerCase().indexOf(typed) >= 0;
    }).slice(0, 20);
    var listbox = listboxOf(input);
    listbox.replaceChildren.apply(listbox, names.map(function (name, n) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = listbox.id + "-" + n;
      item.setAttribute("data-label", name);
      item.setAttribute("aria-selected", "false");
      item.textContent = name;
      return item;
    }));
  }
  function openList(input) {
    if (input.hasAttribute("data-options-from")) {
      fillLocal(input, input.value === input.getAttribute("data-chosen"));
      setOpen(input, listboxOf(input).children.length > 0);
      activate(input, optionsOf(listboxOf(input)).filter(function (option) {
        return option.getAttribute("data-label") === input.value;
      })[0]);
      return;
    }
    if (listboxOf(input).children.length && input.value !== input.getAttribute("data-chosen")) {
      setOpen(input, true);
    } else {
      htmx.process(input); // a field just swapped in is set up by htmx only when it settles
      htmx.trigger(input, "loadOptions", { all: true });
    }
  }
  document.addEventListener("focusin", function (event) {
    var input = comboboxOf(event.target);
    if (input && listboxOf(input) && tabbed) {
      openList(input);
    }
  });
  document.addEventListener("click", function (event) {
    var input = comboboxOf(event.target);
    if (input && listboxOf(input) && input.getAttribute("aria-expanded") !== "true") {
      openList(input);
    }
  });
  document.addEventListener("htmx:configRequest", function (event) {
    var input = comboboxOf(event.detail.elt);
    var why = event.detail.triggeringEvent;
    if (input && why && why.type === "loadOptions" && why.detail && why.detail.all) {
      event.detail.parameters[input.name] = "";
    }
  });
  document.addEventListener("focusout", function (event) {
    var input = comboboxOf(event.target);
    if (input) {
      setOpen(input, false);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.getAttribute("role") === "listbox") {
      var input = document.querySelector('[aria-controls="' + target.id + '"]');
      if (!input) {
        return;
      }
      var more = target.querySelector("[data-more][aria-disabled]");
      if (more) {
        more.remove();
      }
      var all = optionsOf(target);
      var first = Number(target.getAttribute("data-activate") || 0);
      target.removeAttribute("data-activate");
      setOpen(input, target.children.length > 0 && document.activeElement === input);
      activate(input, all[first] || all[0]);
    } else if (target && target.id === "pat-area") {
      showPatArea(target.children.length > 0);
    } else if (target && target.id === "dialog-body") {
      // After a 422: straight to the first field to fix; after a host error the button that
      // was pressed (it was disabled in flight, so the focus fell to the body); when the form
      // comes back after a saved PAT (its fragment is gone): the first empty field, else the
      // button.
      var invalid = target.querySelector('[aria-invalid="true"]');
      var submit = document.getElementById("dialog-submit");
      var empty = Array.prototype.filter.call(
        target.querySelectorAll('#dialog-form:not([hidden]) input[type="text"]'),
        function (input) { return !input.value; }
      )[0];
      if (invalid) {
        invalid.focus();
      } else if (document.activeElement === document.body && empty) {
        empty.focus();
      } else if (document.activeElement === document.body && submit && !submit.disabled) {
        submit.focus();
      }
    }
  });
  // Typing goes on while the form is re-rendered (a repository chosen, a PAT saved, a submit):
  // what is typed into a field after the request left goes into the same field of the form the
  // answer brings, unless the server changed that field itself. The caret stays where it was,
  // and a Repository typed anew is searched for (and its chosen id cleared) as if typed there.
  var typing = null; // {sent: {id: value}, changed: {id: value}, caret: {id, start, end}}
  function typedFields(body) {
    return Array.prototype.slice.call(
      body.querySelectorAll('input[type="text"][id], textarea[id]'));
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-body") {
      var sent = {};
      typedFields(target).forEach(function (field) { sent[field.id] = field.value; });
      typing = { sent: sent, changed: null, caret: null };
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!typing || !target || target.id !== "dialog-body") {
      return;
    }
    typing.changed = {};
    typedFields(target).forEach(function (field) {
      if (field.id in typing.sent && field.value !== typing.sent[field.id]) {
        typing.changed[field.id] = field.value;
        if (document.activeElement === field) {
          typing.caret = { id: field.id, start: field.selectionStart, end: field.selectionEnd };
        }
      }
    });
  });
  function putBackTyping() {
    var kept = typing;
    typing = null;
    Object.keys(kept.changed).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field || field.value !== kept.sent[id]) {
        return; // gone, or set by the server: its value stands
      }
      var focused = document.activeElement === field;
      var search = comboboxOf(field) && (focused || field.hasAttribute("data-value-input"));
      if (search) {
        htmx.process(field); // set up before the value changes, not when the swap settles
      }
      field.value = kept.changed[id];
      if (focused && kept.caret && kept.caret.id === id) {
        field.setSelectionRange(kept.caret.start, kept.caret.end);
      }
      if (search) {
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (typing && typing.changed && target && target.id === "dialog-body") {
      putBackTyping();
    }
  });
  function showPatArea(showing) {
    var form = document.getElementById("dialog-form");
    if (form) {
      form.hidden = showing;
    }
  }
  document.body.addEventListener("patCancelled", function () {
    showPatArea(false); // the fragment's Cancel: back to the kept form
  });
  // A branch typed by hand (not one of the listed branches) is checked on the host.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-branch-check]")) {
      return;
    }
    var list = document.getElementById(input.getAttribute("data-options-from"));
    var known = list && Array.prototype.some.call(list.options, function (option) {
      return option.value === input.value;
    });
    var messages = document.getElementById(input.getAttribute("aria-describedby"));
    if (known || !input.value) {
      if (messages) {
        messages.textContent = "";
      }
    } else {
      htmx.trigger(input, "unknownBranch");
    }
  });
  // The Branch name check learns whether the typed name is in the loaded branch list, so the
  // server can flag it (and link to it) without asking the host.
  document.addEventListener("htmx:configRequest", function (event) {
    var input = event.detail.elt;
    if (!input || input.id !== "name" || input.name !== "name") {
      return;
    }
    var list = document.getElementById("branch-list");
    var name = input.value.trim();
    var listed = list && Array.prototype.some.call(list.options, function (option) {
      return option.value === name;
    });
    if (listed) {
      event.detail.parameters.listed = name;
    }
  });
})();
