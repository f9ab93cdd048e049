// gitint development host only: the theme chosen on /dev/jira (?theme=dark,
// ?theme=light-increased-contrast, ?theme=dark-increased-contrast; light by default), as Jira's
// theming gives it to an app's frame. The page links static/dev/tokens-<theme>.css;
// window.gitintDevTheme.current() reads that file's token values, and applyTo(document) sets
// them on a frame's <html> with data-color-mode (and data-contrast-mode="more" for increased
// contrast), as AP.theming.initializeTheming() and Forge's view.theme.enable() do inside Jira
// (CSSOM properties: no stylesheet the frame's CSP would refuse).
(function () {
  "use strict";
  function current() {
    var mode = document.documentElement.getAttribute("data-color-mode") || "light";
    var contrast = document.documentElement.getAttribute("data-contrast-mode") || "no-preference";
    var tokens = {};
    Array.prototype.forEach.call(document.styleSheets, function (sheet) {
      if (!sheet.href || sheet.href.indexOf("/dev/tokens-") < 0) {
        return;
      }
      Array.prototype.forEach.call(sheet.cssRules, function (rule) {
        for (var i = 0; rule.style && i < rule.style.length; i++) {
          var name = rule.style[i];
          if (name.indexOf("--ds-") === 0) {
            tokens[name] = rule.style.getPropertyValue(name).trim();
          }
        }
      });
    });
    return { colorMode: mode, contrastMode: contrast, tokens: tokens };
  }
  function apply(root, theme) {
    root.setAttribute("data-color-mode", theme.colorMode);
    if (theme.contrastMode === "more") {
      root.setAttribute("data-contrast-mode", "more");
    } else {
      root.removeAttribute("data-contrast-mode");
    }
    root.setAttribute("data-theme", "dark:dark light:light spacing:spacing typography:typography");
    root.style.colorScheme = theme.colorMode;
    Object.keys(theme.tokens).forEach(function (name) {
      root.style.setProperty(name, theme.tokens[name]);
    });
  }
  window.gitintDevTheme = {
    current: current,
    apply: apply,
    applyTo: function (doc) {
      apply(doc.documentElement, current());
    }
  };
})();
