/* The consultation builder re-checks the wording as the planner types: it sends the
   unsaved text to the JSON API's wording check (POST .../consultation/wording-check,
   the same rules in governance/wording.py that decide whether the consultation may
   open) and lists the flags under each box. Without JavaScript the page still shows
   every flag after saving; this only saves a round trip. */
(function () {
  "use strict";
  var form = document.getElementById("consultation-form");
  if (!form || !window.fetch) {
    return;
  }
  var url = form.getAttribute("data-check-url");
  var timer = null;
  var sent = 0;

  function questionBoxes() {
    return Array.prototype.slice.call(form.querySelectorAll("textarea[name$='_text']"));
  }

  function text(name) {
    var field = form.elements.namedItem(name);
    return field ? field.value : "";
  }

  function show(where, issues) {
    var box = form.querySelector("[data-live-flags='" + where + "']");
    if (!box) {
      return;
    }
    box.textContent = "";
    if (!issues.length) {
      return;
    }
    var note = document.createElement("p");
    note.className = "live-note";
    note.textContent = "As typed (not saved yet):";
    box.appendChild(note);
    var list = document.createElement("ul");
    list.className = "flags";
    issues.forEach(function (issue) {
      var item = document.createElement("li");
      item.className = "flag open";
      item.setAttribute("data-test", "live-flag");
      item.setAttribute("data-rule", issue.rule);
      if (issue.excerpt) {
        var mark = document.createElement("mark");
        mark.textContent = issue.excerpt;
        item.appendChild(mark);
        item.appendChild(document.createTextNode(": "));
      }
      item.appendChild(document.createTextNode(issue.problem));
      var suggestion = document.createElement("span");
      suggestion.className = "suggestion";
      suggestion.setAttribute("data-test", "live-suggestion");
      suggestion.textContent = "Suggestion: " + issue.suggestion;
      item.appendChild(document.createElement("br"));
      item.appendChild(suggestion);
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function check() {
    var boxes = questionBoxes();
    var body = {
      benefits: text("benefits"),
      risks: text("risks"),
      // Every box in order, empty ones too, so "q3" in the answer is the third box.
      questions: boxes.map(function (box) { return box.value.slice(0, 500); })
    };
    var number = ++sent;
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (issues) {
      if (!issues || number !== sent) {
        return;  // a failed check, or an older answer overtaken by a newer one
      }
      var byPlace = { information_sheet: [] };
      boxes.forEach(function (box, i) { byPlace["q" + (i + 1)] = []; });
      issues.forEach(function (issue) {
        (byPlace[issue.where] = byPlace[issue.where] || []).push(issue);
      });
      Object.keys(byPlace).forEach(function (where) { show(where, byPlace[where]); });
      form.setAttribute("data-checked", String(number));
    }).catch(function () { /* offline: the server check on save still applies */ });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  });
}());
