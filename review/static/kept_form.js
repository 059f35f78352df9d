// Put back what a user typed into a form before their session ended (review/kept_form.py).
// The form is the page's own, with its fresh CSRF token; nothing is sent until the user does.
(function () {
  "use strict";
  var box = document.getElementById("kept-form");
  if (!box) {
    return;
  }
  var action = box.getAttribute("data-action");
  var fields = JSON.parse(box.getAttribute("data-fields") || "[]");
  var NOT_TYPED = ["hidden", "password", "submit", "button", "file"];

  function kept(name) {
    return fields.filter(function (field) { return field[0] === name; })
      .map(function (field) { return field[1]; });
  }

  // Several forms may post to one address (one per next state): their hidden fields differ.
  function isTheForm(form) {
    // getAttribute: a control named "action" (a submit button) hides the form's property.
    var target = form.getAttribute("action") || window.location.pathname;
    if (new URL(target, window.location.href).pathname !== action) {
      return false;
    }
    return Array.prototype.every.call(form.elements, function (element) {
      if (element.type !== "hidden" || element.name === "csrf_token" || element.name === "form_page") {
        return true;
      }
      var values = kept(element.name);
      return values.length === 0 || values.indexOf(element.value) !== -1;
    });
  }

  var form = Array.prototype.find.call(document.forms, isTheForm);
  if (!form) {
    return;
  }
  var first = null;
  Array.prototype.forEach.call(form.elements, function (element) {
    var values = kept(element.name);
    if (!element.name || values.length === 0 || NOT_TYPED.indexOf(element.type) !== -1) {
      return;
    }
    if (element.type === "checkbox" || element.type === "radio") {
      element.checked = values.indexOf(element.value) !== -1;
    } else if (element.type === "select-multiple") {
      Array.prototype.forEach.call(element.options, function (option) {
        option.selected = values.indexOf(option.value) !== -1;
      });
    } else {
      element.value = values[0];
    }
    if (values.some(function (value) { return value !== ""; })) {
      first = first || element;  // the first field the user had typed into
    }
  });
  for (var parent = form.parentElement; parent; parent = parent.parentElement) {
    if (parent.tagName === "DETAILS") {
      parent.open = true;
    }
  }
  form.classList.add("kept");
  if (first) {
    first.focus();
    first.scrollIntoView({ block: "center" });
  }
})();
