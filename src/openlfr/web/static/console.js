// The operator console (templates/console.html): follows the deployment's live stream
// (server-sent events from /api/deployments/{id}/live) and sends the page's forms to the
// JSON API with fetch and JSON bodies. Without this script the page still works: it lists
// the alerts as they were when it was rendered and its forms post to the staff paths.
// Nothing is fetched from another site; text goes in with textContent, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("console");
  if (!root || !("EventSource" in window) || !("fetch" in window)) {
    return;
  }
  const list = root.querySelector("[data-test=alerts]");
  const template = document.getElementById("alert-card-template");
  const labels = JSON.parse(document.getElementById("console-labels").textContent);
  const connection = root.querySelector("[data-test=connection]");
  const announce = root.querySelector("[data-test=announce]");
  const soundToggle = root.querySelector("[data-test=sound-toggle]");
  const baseTitle = document.title;
  let unseen = 0;
  let audio = null;

  // --- how an alert is shown --------------------------------------------------------------

  function utc(iso) {
    // "2026-03-22 10:00:05", as the server renders it.
    return new Date(iso).toISOString().slice(0, 19).replace("T", " ");
  }

  function words(code) {
    return String(code).replace(/_/g, " ");
  }

  function setField(card, name, text) {
    const field = card.querySelector("[data-field=" + name + "]");
    if (field) {
      field.textContent = text;
    }
  }

  function showPhotoGone(card, which, message) {
    const figure = card.querySelector("[data-photo=" + which + "]");
    const img = figure.querySelector("img");
    if (img) {
      img.remove();
    }
    const gone = figure.querySelector(".photo-gone");
    if (message) {
      gone.textContent = message;
    }
    gone.hidden = false;
  }

  function watchPhoto(card, which) {
    // A photo deleted since (retention, watchlist destroyed) answers 404: say so instead.
    const img = card.querySelector("[data-photo=" + which + "] img");
    if (!img) {
      return;
    }
    if (img.complete && img.getAttribute("src") && img.naturalWidth === 0) {
      showPhotoGone(card, which, null);  // it failed before this script ran
      return;
    }
    img.addEventListener("error", function () {
      showPhotoGone(card, which, null);
    }, { once: true });
  }

  function newCard(alert) {
    // Imported, not cloned: a clone stays in the template's inert document, which loads
    // no images.
    const card = document.importNode(template.content.firstElementChild, true);
    card.id = "alert-" + alert.id;
    card.dataset.alertId = String(alert.id);
    const adjudicate = card.querySelector("form.adjudicate");
    if (adjudicate) {
      adjudicate.action = root.dataset.consoleUrl + "/alerts/" + alert.id + "/adjudication";
      adjudicate.dataset.api = "/api/alerts/" + alert.id + "/adjudication";
    }
    const outcome = card.querySelector("form.outcome");
    if (outcome) {
      outcome.action = root.dataset.consoleUrl + "/alerts/" + alert.id + "/outcome";
      outcome.dataset.api = "/api/alerts/" + alert.id + "/outcome";
    }
    const probe = card.querySelector("[data-photo=probe] img");
    if (alert.has_probe_crop) {
      probe.src = "/api/alerts/" + alert.id + "/probe.jpg";
    } else {
      showPhotoGone(card, "probe", "The engine sent no camera photo with this alert.");
    }
    const reference = card.querySelector("[data-photo=reference] img");
    if (alert.entry_id !== null) {
      reference.src = "/api/alerts/" + alert.id + "/reference.jpg";
    } else {
      showPhotoGone(card, "reference",
        "Watchlist photo deleted: the watchlist was destroyed when the deployment ended.");
    }
    watchPhoto(card, "probe");
    watchPhoto(card, "reference");
    return card;
  }

  function fill(card, alert) {
    card.dataset.adjudication = alert.adjudication;
    card.dataset.outcome = alert.outcome || "";
    card.dataset.occurredAt = alert.occurred_at;
    card.classList.toggle("is-pending", alert.adjudication === "pending");
    setField(card, "score", Number(alert.score).toFixed(3) +
      (alert.second_opinion ? " (lifted by the second opinion)" : ""));
    setField(card, "time", utc(alert.occurred_at));
    setField(card, "camera", alert.camera);
    setField(card, "track", alert.track_id);
    setField(card, "category", words(alert.entry_category));
    setField(card, "adjudication", labels.adjudication[alert.adjudication] || words(alert.adjudication));
    setField(card, "outcome", alert.outcome ? (labels.outcome[alert.outcome] || words(alert.outcome))
      : "Not recorded yet");
    card.querySelectorAll("form.adjudicate button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.value === alert.adjudication));
    });
    const fieldset = card.querySelector("form.outcome fieldset");
    if (fieldset) {
      fieldset.disabled = alert.adjudication === "pending";
      if (alert.outcome) {
        fieldset.querySelector("select").value = alert.outcome;
      }
    }
    if (!alert.has_probe_crop && card.querySelector("[data-photo=probe] img")) {
      showPhotoGone(card, "probe", alert.probe_crop_purged_at
        ? "Camera photo deleted " + utc(alert.probe_crop_purged_at).slice(0, 16) +
          " UTC, when its retention ended."
        : "The engine sent no camera photo with this alert.");
    }
  }

  function rank(card) {
    // Waiting for a decision, then waiting for an outcome, then done; newest first.
    const state = card.dataset.adjudication === "pending" ? 0 : (card.dataset.outcome ? 2 : 1);
    return [state, -Date.parse(card.dataset.occurredAt), -Number(card.dataset.alertId)];
  }

  function before(a, b) {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i += 1) {
      if (ra[i] !== rb[i]) {
        return ra[i] < rb[i];
      }
    }
    return false;
  }

  function place(card) {
    // Move only this card, to where the order puts it (others keep focus and scroll).
    let next = null;
    for (const other of list.children) {
      if (other !== card && before(card, other)) {
        next = other;
        break;
      }
    }
    if (card.parentNode !== list || card.nextElementSibling !== next) {
      list.insertBefore(card, next);
    }
    root.querySelector("[data-test=no-alerts]").hidden = list.children.length > 0;
  }

  function show(alert, isNew) {
    let card = document.getElementById("alert-" + alert.id);
    const arriving = !card;
    if (arriving) {
      card = newCard(alert);
    }
    fill(card, alert);
    place(card);
    if (arriving && isNew) {
      cue(card, alert);
    }
    return card;
  }

  // --- the cue for a new alert ----------------------------------------------------------

  function beep() {
    if (!soundToggle || !soundToggle.checked) {
      return;
    }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.4);
    } catch (e) {
      // No sound on this device: the visual cue remains.
    }
  }

  function cue(card, alert) {
    card.classList.add("is-new");
    card.addEventListener("animationend", function () {
      card.classList.remove("is-new");
    }, { once: true });
    announce.textContent = "New alert: score " + Number(alert.score).toFixed(3) + " on " +
      alert.camera + ", " + words(alert.entry_category) + ".";
    if (document.hidden) {
      unseen += 1;
      document.title = "(" + unseen + ") " + baseTitle;
    }
    beep();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      unseen = 0;
      document.title = baseTitle;
    }
  });
  if (soundToggle) {
    soundToggle.addEventListener("change", function () {
      if (soundToggle.checked) {
        beep();  // the click allows sound from now on, and lets the operator hear it
      }
    });
  }

  // --- counters and status ------------------------------------------------------------------

  function counters(values) {
    Object.keys(values).forEach(function (key) {
      const field = root.querySelector("[data-counter=" + key + "]");
      if (field) {
        field.textContent = String(values[key]);
      }
    });
  }

  function status(state) {
    root.dataset.status = state.status;
    const line = root.querySelector("[data-test=console-status]");
    line.className = "console-status status-" + state.status;
    setField(line, "status", words(state.status));
    setField(line, "status-message", state.message);
    root.querySelector("[data-control=activate]").hidden = state.status !== "authorised";
    root.querySelector("[data-control=complete]").hidden = state.status !== "active";
  }

  function connected(text, healthy) {
    connection.hidden = false;
    connection.textContent = text;
    connection.classList.toggle("is-down", !healthy);
  }

  // --- the live stream --------------------------------------------------------------------

  function data(event) {
    return JSON.parse(event.data);
  }

  const stream = new EventSource(root.dataset.liveUrl);
  stream.addEventListener("open", function () {
    connected("Live: alerts appear here as they arrive.", true);
  });
  stream.addEventListener("error", function () {
    if (stream.readyState === EventSource.CLOSED) {
      connected("Disconnected: reload the page to see new alerts.", false);
    } else {
      connected("Connection lost: reconnecting…", false);
    }
  });
  stream.addEventListener("alert", function (event) {
    show(data(event), true);
  });
  stream.addEventListener("alert-updated", function (event) {
    show(data(event), false);
  });
  stream.addEventListener("counters", function (event) {
    counters(data(event));
  });
  stream.addEventListener("status", function (event) {
    const state = data(event);
    status(state);
    if (state.ended) {
      stream.close();
      connected("The deployment has ended: no more alerts will arrive.", true);
    }
  });

  // --- decisions, sent to the JSON API -------------------------------------------------------

  function problem(body, response) {
    if (body && typeof body.detail === "string") {
      return body.detail;
    }
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (d) {
        return (d.loc ? d.loc.slice(1).join(".") + ": " : "") + d.msg;
      }).join("; ");
    }
    return "The server answered " + response.status + "; try again.";
  }

  async function send(form, body) {
    const card = form.closest(".alert-card");
    const error = card.querySelector("[data-test=card-error]");
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(function () { return null; });
      if (!response.ok) {
        error.textContent = problem(answer, response);
        error.hidden = false;
        return;
      }
      error.hidden = true;
      show(answer, false);
      card.scrollIntoView({ block: "nearest" });
    } catch (e) {
      error.textContent = "Could not reach the server: check the connection and try again.";
      error.hidden = false;
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  root.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.dataset.api) {
      return;  // activate and complete are ordinary posts, after their confirmation step
    }
    event.preventDefault();
    // Why a decision or outcome changed, once the deployment has ended (else no field).
    const reason = form.elements.reason ? form.elements.reason.value.trim() || null : null;
    if (form.classList.contains("adjudicate")) {
      const choice = event.submitter && event.submitter.value;
      if (choice) {
        send(form, { adjudication: choice, reason: reason });
      }
    } else {
      const group = form.elements.demographic_group.value.trim();
      send(form, { outcome: form.elements.outcome.value, demographic_group: group || null,
                   reason: reason });
    }
  });

  list.querySelectorAll(".alert-card").forEach(function (card) {
    watchPhoto(card, "probe");
    watchPhoto(card, "reference");
  });
}());
