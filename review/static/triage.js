// Keyboard triage of the review queue. Served from /static (the CSP allows no inline script).
//   j / k   next / previous case        o or Enter   open the case
//   c       confirm                     d            dismiss (asks for a reason)
//   e       escalate to legal           a            assign to me
//   x       select for the bulk buttons
// The keys act on the row that has the focus (the highlight follows the focus); j/k move the
// focus from row to row. Each row carries the moves the server allows its user (data-moves);
// a key for another move says why not and sends nothing. Every action is a POST of a form
// that carries the page's CSRF token; the server decides, and offers an undo.
// Single-key shortcuts can be switched off (WCAG 2.1.4); the choice is kept in localStorage.
"use strict";

(function () {
  const queue = document.querySelector("section.queue");
  if (!queue) {
    return;
  }
  const rows = Array.from(queue.querySelectorAll("table.cases tr.case"));
  const boxes = rows.map(function (row) {
    return row.querySelector("input[type='checkbox']");
  });
  const message = document.getElementById("triage-message");
  const toggle = document.getElementById("shortcuts-toggle");
  const triage = document.getElementById("triage-form");
  const dialog = document.getElementById("dismiss-dialog");
  const dismissForm = document.getElementById("dismiss-form");
  const bulkForm = document.getElementById("bulk-form");
  const bulkConfirm = document.getElementById("bulk-confirm");
  const undoBar = queue.querySelector(".undo-bar");
  // The queue's own address, also when this page answers a form posted from it.
  const here = triage.querySelector("input[name='next']").value;
  const rowKey = "synthwatch.queue.row." + here;
  const selectionKey = "synthwatch.queue.selection." + here;
  const shortcutsKey = "synthwatch.shortcuts";
  // key: [the move a row must allow, what the move does to a case]
  const MOVES = {
    c: ["confirmed", "confirmed"],
    d: ["dismissed", "dismissed"],
    e: ["escalated", "escalated"],
    a: ["assign", "assigned to you"],
  };
  const NAMES = { c: "confirm", d: "dismiss", e: "escalate", a: "assign to me" };

  function stored(store, key, fallback) {
    try {
      const value = store.getItem(key);
      return value === null ? fallback : value;
    } catch (error) {
      return fallback; // storage switched off: nothing is remembered
    }
  }

  function store(storage, key, value) {
    try {
      if (value === null) {
        storage.removeItem(key);
      } else {
        storage.setItem(key, value);
      }
    } catch (error) {
      // storage switched off: nothing is remembered
    }
  }

  function say(text) {
    message.textContent = text;
    message.classList.toggle("shown", text !== "");
  }

  // --- Single-key shortcuts: on or off, remembered.
  function shortcutsOn() {
    return stored(localStorage, shortcutsKey, "on") !== "off";
  }

  function showToggle() {
    const on = shortcutsOn();
    toggle.textContent = "Keyboard shortcuts: " + (on ? "on" : "off");
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    queue.classList.toggle("shortcuts-off", !on);
  }

  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    store(localStorage, shortcutsKey, shortcutsOn() ? "off" : "on");
    showToggle();
    say("");
  });
  showToggle();

  // --- The undo the server offers lasts a few seconds; the button goes when it has.
  if (undoBar) {
    const seconds = Number(undoBar.dataset.seconds) || 0;
    window.setTimeout(function () {
      const form = undoBar.querySelector(".undo-form");
      if (form) {
        form.remove();
      }
      undoBar.querySelector(".undo-time").textContent = "(too late to undo)";
    }, seconds * 1000);
  }

  // --- The selection for the bulk buttons survives reloads (in this tab).
  function saveSelection() {
    const ids = boxes
      .filter(function (box) {
        return box.checked;
      })
      .map(function (box) {
        return box.value;
      });
    store(sessionStorage, selectionKey, ids.length ? JSON.stringify(ids) : null);
  }

  if (bulkForm && bulkForm.dataset.kept) {
    saveSelection(); // the server showed the selection again: it is the one to keep
  } else {
    let kept = [];
    try {
      kept = JSON.parse(stored(sessionStorage, selectionKey, "[]"));
    } catch (error) {
      kept = [];
    }
    boxes.forEach(function (box) {
      if (Array.isArray(kept) && kept.indexOf(box.value) !== -1) {
        box.checked = true;
      }
    });
  }
  boxes.forEach(function (box) {
    box.addEventListener("change", saveSelection);
  });
  if (bulkConfirm) {
    bulkConfirm.addEventListener("submit", function () {
      store(sessionStorage, selectionKey, null);
    });
  }

  if (rows.length === 0) {
    return;
  }

  // --- One notion of the current row: the one with the focus (or last had it).
  let current = Math.min(Number(stored(sessionStorage, rowKey, "0")) || 0, rows.length - 1);

  function highlight(index) {
    current = index;
    rows.forEach(function (row, i) {
      row.classList.toggle("selected", i === current);
      if (i === current) {
        row.setAttribute("aria-current", "true");
      } else {
        row.removeAttribute("aria-current");
      }
    });
    store(sessionStorage, rowKey, String(current));
  }

  function focusRow(index, options) {
    const i = Math.max(0, Math.min(index, rows.length - 1));
    rows[i].querySelector("a.row-link").focus(options);
    highlight(i);
  }

  // The row the focus is in; with the focus nowhere (the page itself), the highlighted row;
  // with the focus on anything else (a filter, the top links), none: the keys are not ours.
  function rowOf(element) {
    const row = element && element.closest ? element.closest("tr.case") : null;
    if (row && rows.indexOf(row) !== -1) {
      return row;
    }
    const nowhere = element === document.body || element === document.documentElement;
    return nowhere || (element && element.tagName === "MAIN") ? rows[current] : null;
  }

  rows.forEach(function (row, i) {
    row.addEventListener("focusin", function () {
      highlight(i);
    });
    row.addEventListener("click", function (event) {
      if (!event.target.closest("a, input, button, label")) {
        focusRow(i);
      }
    });
  });

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
  dialog.addEventListener("close", function () {
    focusRow(current);
  });

  function refusal(row, key, moves) {
    const id = row.dataset.caseId;
    if (key === "a" && row.dataset.mine) {
      return "Case " + id + " is already yours.";
    }
    const keys = Object.keys(MOVES).filter(function (other) {
      return moves.indexOf(MOVES[other][0]) !== -1;
    });
    const offered = keys.length
      ? " Keys for it: " +
        keys
          .map(function (other) {
            return other + " " + NAMES[other];
          })
          .join(", ") +
        "."
      : " Open it with o to see what can be done.";
    return (
      "Case " + id + " is " + row.dataset.state + ": it can't be " + MOVES[key][1] +
      " from here." + offered
    );
  }

  function act(row, key) {
    const moves = (row.dataset.moves || "").split(" ");
    const move = MOVES[key][0];
    if (moves.indexOf(move) === -1) {
      say(refusal(row, key, moves));
      return;
    }
    say("");
    if (move === "dismissed") {
      openDismiss(row);
    } else if (move === "assign") {
      post(row.dataset.assignUrl, {});
    } else {
      post(row.dataset.transitionUrl, { to: move });
    }
  }

  function typing(target) {
    const tag = target.tagName;
    if (tag === "INPUT") {
      return target.type !== "checkbox";
    }
    return tag === "SELECT" || tag === "TEXTAREA" || tag === "BUTTON" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (!shortcutsOn() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
      return;
    }
    if (dialog.open || typing(target)) {
      return;
    }
    if (event.key === "Enter" && target.closest && target.closest("a")) {
      return; // the browser opens the focused link itself
    }
    const key = event.key === "Enter" ? "o" : event.key;
    const row = rowOf(target);
    if (row === null) {
      return;
    }
    const index = rows.indexOf(row);
    if (key === "j") {
      focusRow(index + 1);
    } else if (key === "k") {
      focusRow(index - 1);
    } else if (key === "o") {
      location.assign(row.dataset.href);
    } else if (key === "x") {
      const box = boxes[index];
      box.checked = !box.checked;
      saveSelection();
    } else if (Object.prototype.hasOwnProperty.call(MOVES, key)) {
      act(row, key);
    } else {
      return;
    }
    event.preventDefault();
  });

  if (document.activeElement === document.body || document.activeElement === null) {
    focusRow(current, { preventScroll: true });
  } else {
    highlight(current);
  }
})();
