// The prescription form's session-length preview, live as fields change (the server shows the
// same figure on every render; this only saves a round trip). No other script on the desk.
(function () {
  "use strict";
  var form = document.getElementById("rx");
  var out = document.getElementById("minutes");
  if (!form || !out) { return; }
  var SETTLE = Number(form.getAttribute("data-settle"));
  var BREAK = Number(form.getAttribute("data-break"));
  function update() {
    var total = SETTLE, any = false, ok = true;
    form.querySelectorAll("tr[data-pattern]").forEach(function (row) {
      var id = row.getAttribute("data-pattern");
      if (!form.elements["use_" + id].checked) { return; }
      any = true;
      var reps = Number(form.elements[id + "_reps"].value || 3);
      var rep = 0;
      ["move_s", "hold_s", "release_s", "rest_s"].forEach(function (k) {
        var el = form.elements[id + "_" + k];
        var v = el.value === "" ? Number(el.getAttribute("data-default")) : Number(el.value);
        if (!isFinite(v)) { ok = false; }
        rep += v;
      });
      if (!isFinite(reps)) { ok = false; }
      total += Number(row.getAttribute("data-intro")) + reps * rep + BREAK;
    });
    out.textContent = any && ok ? (total / 60).toFixed(1) : "?";
    // the validator's own rule: more than 1.25 times the target, or under half of it, is warned
    var note = document.getElementById("length-note");
    var target = Number(form.elements.target_minutes.value || 2);
    var minutes = total / 60;
    if (note) {
      note.textContent = !(any && ok && isFinite(target)) ? "" :
        minutes > target * 1.25 ? "That is longer than the " + target + " minute target: saving will ask you to confirm." :
        minutes < target * 0.5 ? "That is well under the " + target + " minute target: saving will ask you to confirm." : "";
    }
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
}());
