// Near-duplicate clusters on the review queue. Served from /static (no inline script).
// A cluster's row stands for every case of the cluster the filter shows: its checkbox selects
// them all for the bulk buttons (the hidden boxes of the other cases follow it when the bulk
// form is sent), and the keys c and d on it decide the whole cluster (its row posts to the
// cluster's own route).
"use strict";

(function () {
  const form = document.getElementById("bulk-form");
  if (!form) {
    return;
  }
  form.addEventListener("submit", function () {
    form.ownerDocument.querySelectorAll("input[data-follows]").forEach(function (box) {
      const row = box.closest("tr.case");
      const leader = row ? row.querySelector("td.select input[type='checkbox']") : null;
      box.checked = Boolean(leader && leader.checked);
    });
  });
})();
