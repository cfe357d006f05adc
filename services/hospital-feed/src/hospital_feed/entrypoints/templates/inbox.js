// The practice inbox, live: new alerts from /practice/stream are put at the top of the list.
// Built from the page's own <template> and filled with textContent only: data never becomes
// markup. Without JavaScript the page still works (reload to see new alerts).
"use strict";
(function () {
  var list = document.getElementById("alerts");
  var template = document.getElementById("alert-template");
  var announcer = document.getElementById("announcer");
  var empty = document.getElementById("empty");
  if (!list || !template || !window.EventSource) { return; }

  var KINDS = {}, BANDS = {}, OUTCOMES = {};
  function labels(selectId, into) {
    var select = document.getElementById(selectId);
    if (!select) { return; }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value) { into[select.options[i].value] = select.options[i].text; }
    }
  }
  labels("filter-kind", KINDS);
  labels("filter-band", BANDS);
  var sample = template.content.querySelector("select[name=outcome]");
  if (sample) {
    for (var i = 0; i < sample.options.length; i++) {
      if (sample.options[i].value) { OUTCOMES[sample.options[i].value] = sample.options[i].text; }
    }
  }

  function spaced(nhs) {
    return nhs && nhs.length === 10 ? nhs.slice(0, 3) + " " + nhs.slice(3, 6) + " " + nhs.slice(6) : (nhs || "");
  }
  function set(root, field, text) {
    var node = root.querySelector('[data-field="' + field + '"]');
    if (node) { node.textContent = text; }
    return node;
  }
  function matches(alert, band, state) {
    var want = list.dataset;
    return (!want.filterKind || want.filterKind === alert.kind) &&
      (!want.filterBand || want.filterBand === band) &&
      (!want.filterState || want.filterState === state);
  }

  function card(alert) {
    var id = String(alert.alert_id);
    var band = BANDS[alert.risk_band] ? alert.risk_band : "";
    var state = alert.state || "new";
    if (!matches(alert, band, state)) { return null; }
    var item = template.content.firstElementChild.cloneNode(true);
    item.id = "alert-" + id;
    item.dataset.alertId = id;
    item.dataset.kind = alert.kind || "";
    item.dataset.band = band;
    item.dataset.state = state;
    item.className = "alert live-new state-" + state;
    var article = item.querySelector("article");
    article.setAttribute("aria-labelledby", "alert-" + id + "-title");
    item.querySelector(".alert-title").id = "alert-" + id + "-title";
    var title = alert.title || KINDS[alert.kind] || alert.kind || "Alert";
    set(item, "title", title);
    var emergency = item.querySelector('[data-field="emergency"]');
    if (emergency && !alert.emergency) { emergency.remove(); }
    set(item, "nhs_number", spaced(alert.nhs_number));
    var when = alert.event_at || alert.created_at || "";
    var time = set(item, "event_at", when.slice(0, 16).replace("T", " "));
    if (time) { time.setAttribute("datetime", when); }
    set(item, "sending_facility", alert.sending_facility || "");
    set(item, "location", alert.location || "Not given");
    var bandNode = set(item, "band", band ? BANDS[band] : "Not scored");
    if (bandNode) { bandNode.className = "band band-" + (band || "none"); }
    set(item, "state", state.charAt(0).toUpperCase() + state.slice(1));
    var reasons = alert.risk_reasons || [];
    var reasonList = item.querySelector('[data-field="reasons"]');
    if (reasonList && reasons.length) {
      reasons.forEach(function (reason) {
        var li = document.createElement("li");
        li.textContent = typeof reason === "string" ? reason : (reason.detail || reason.factor || "");
        reasonList.appendChild(li);
      });
      item.querySelector('[data-field="reasons-block"]').hidden = false;
    }
    item.querySelectorAll("form[data-action]").forEach(function (form) {
      var query = window.location.search;
      form.setAttribute("action", "/practice/alerts/" + id + "/" + form.dataset.action + query);
    });
    var select = item.querySelector("select[name=outcome]");
    var label = item.querySelector(".actioned-form label");
    if (select && label) { select.id = "outcome-" + id; label.htmlFor = select.id; }
    item.querySelectorAll(".visually-hidden").forEach(function (node) {
      node.textContent = " (alert " + id + ")";
    });
    return item;
  }

  var newest = Number(list.dataset.newest || "0");
  function receive(message) {
    var alert;
    try { alert = JSON.parse(message.data); } catch (error) { return; }
    if (!alert || typeof alert.alert_id !== "number" || alert.alert_id <= newest) { return; }
    newest = alert.alert_id;
    var item = card(alert);
    if (!item) { return; }
    list.insertBefore(item, list.firstChild);
    if (empty) { empty.hidden = true; }
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = "New alert: " + (alert.title || KINDS[alert.kind] || "hospital alert");
    }, 50);
  }

  // From the newest alert the page shows; on reconnecting the browser sends Last-Event-ID.
  var stream = new EventSource("/practice/stream?after=" + newest);
  stream.addEventListener("message", receive);
  stream.addEventListener("alert", receive);
})();
