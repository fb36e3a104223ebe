// keyward's one script: copy buttons. A <button data-copy="ID" hidden> copies the value of
// the field with that id. The button starts hidden, so without this file (or without
// JavaScript) it never shows, and the field's text is selected and copied by hand.
// Served as a file from /static: no inline script, under the page's default-src 'self'.
"use strict";

document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById(button.getAttribute("data-copied") || "");
  if (!field) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var said = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    var selected = function () {
      field.focus();
      field.select();
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
      said(copied ? "Copied." : "Selected: press Ctrl+C (or Cmd+C) to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () {
        said("Copied.");
      }, selected);
    } else {
      selected();
    }
  });
});
