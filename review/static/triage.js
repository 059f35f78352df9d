// Keyboard triage of the review queue. Served from /static (the CSP allows no inline script).
//   j / k   next / previous case        o or Enter   open the case
//   c       confirm                     d            dismiss (asks for a reason)
//   e       escalate to legal           a            assign to me
//   x       select for bulk dismiss
// Every action is a POST of a form that carries the page's CSRF token; the server decides.
"use strict";

(function () {
  const queue = document.querySelector("section.queue");
  const rows = Array.from(document.querySelectorAll("table.cases tr.case"));
  if (!queue || rows.length === 0) {
    return;
  }
  const keys = queue.dataset.keys || "";
  const triage = document.getElementById("triage-form");
  const dialog = document.getElementById("dismiss-dialog");
  const dismissForm = document.getElementById("dismiss-form");
  const storageKey = "synthwatch.queue." + location.pathname + location.search;
  let current = Math.min(Number(sessionStorage.getItem(storageKey)) || 0, rows.length - 1);

  function select(index) {
    current = Math.max(0, Math.min(index, rows.length - 1));
    rows.forEach(function (row, i) {
      row.classList.toggle("selected", i === current);
      row.setAttribute("aria-selected", i === current ? "true" : "false");
    });
    rows[current].scrollIntoView({ block: "nearest" });
    sessionStorage.setItem(storageKey, String(current));
  }

  function post(url, fields) {
    triage.action = url;
    Object.keys(fields).forEach(function (name) {
      let input = triage.querySelector("input[name='" + name + "']");
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        triage.appendChild(input);
      }
      input.value = fields[name];
    });
    triage.submit();
  }

  function openDismiss(row) {
    dismissForm.action = row.dataset.transitionUrl;
    dialog.querySelector(".dialog-case").textContent = row.dataset.caseId;
    dialog.querySelector(".dialog-error").hidden = true;
    dismissForm.reset();
    dialog.showModal();
    dismissForm.querySelector("select[name='reason']").focus();
  }

  dismissForm.addEventListener("submit", function (event) {
    const reason = dismissForm.querySelector("select[name='reason']").value;
    const note = dismissForm.querySelector("input[name='note']").value.trim();
    if (!reason && !note) {
      event.preventDefault();
      dialog.querySelector(".dialog-error").hidden = false;
    }
  });
  dialog.querySelector(".dialog-cancel").addEventListener("click", function () {
    dialog.close();
  });

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (event) {
      if (event.target.tagName !== "A" && event.target.tagName !== "INPUT") {
        select(i);
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || dialog.open) {
      return;
    }
    const tag = event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || tag === "BUTTON") {
      return;
    }
    const row = rows[current];
    const key = event.key === "Enter" ? "o" : event.key;
    if (key === "j") {
      select(current + 1);
    } else if (key === "k") {
      select(current - 1);
    } else if (key === "o") {
      location.assign(row.dataset.href);
    } else if (keys.indexOf(key) === -1) {
      return;
    } else if (key === "c") {
      post(row.dataset.transitionUrl, { to: "confirmed" });
    } else if (key === "e") {
      post(row.dataset.transitionUrl, { to: "escalated" });
    } else if (key === "d") {
      openDismiss(row);
    } else if (key === "a") {
      post(row.dataset.assignUrl, {});
    } else if (key === "x") {
      const box = row.querySelector("input[type='checkbox']");
      box.checked = !box.checked;
    } else {
      return;
    }
    event.preventDefault();
  });

  select(current);
})();
