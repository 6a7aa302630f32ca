/* The grid worker's console: the inbox (/w) and the case page (/w/c/CODE). From the inbox to "contacted": two taps. */
(function () {
  "use strict";

  var M = window.Mashang;
  var t = M.t, h = M.h;
  var REFRESH_MS = 60 * 1000;

  function statusTag(item) {
    if (item.status === "open") { return M.countdown(item.contact_due_at); }
    return h("span", {"class": "tag green"}, t("console_status_" + item.status));
  }

  function inboxCard(item) {
    var tags = [];
    if (item.assigned_to_me) { tags.push(h("span", {"class": "tag amber"}, t("console_assigned_to_you"))); }
    else if (item.assigned_to) { tags.push(h("span", {"class": "tag"}, t("console_assigned_to", {name: item.assigned_to.name}))); }
    if (item.acked && item.status === "open") { tags.push(h("span", {"class": "tag"}, t("console_acked"))); }
    return h("li", null, h("a", {"class": "case" + (item.overdue ? " is-overdue" : ""), href: "/w/c/" + item.tracking_code},
      h("span", {"class": "row"}, h("span", {"class": "what"}, M.categoryName(item.category)), statusTag(item)),
      h("span", {"class": "where"}, item.grid.name + " · " + M.localTime(item.created_at)),
      h("p", {"class": "summary"}, item.summary),
      tags.length ? h("span", null, tags) : null));
  }

  var refreshTimer = null;

  function loadInbox() {
    M.api("GET", "/api/v1/inbox").then(function (answer) {
      if (M.handled(answer, loadInbox)) { return; }
      M.syncClock(answer.body.now);
      M.showNav(answer.body.person);
      var cases = answer.body.cases;
      var push = h("div", {id: "push"});
      M.mount([
        h("h1", null, t("console_worker_title")),
        cases.length ? h("ul", {"class": "cases"}, cases.map(inboxCard)) : h("p", {"class": "card"}, t("console_inbox_empty")),
        push
      ]);
      M.offerPush(push);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(function again() {
        if (document.visibilityState === "visible") { loadInbox(); } else { refreshTimer = setTimeout(again, REFRESH_MS); }
      }, REFRESH_MS);
    }, M.offline);
  }

  function callLink(call) {
    var who = t("call_" + call.who) + (call.name ? " " + call.name : "") + (call.relation ? "（" + call.relation + "）" : "");
    return h("a", {"class": "big call", href: "tel:" + call.phone}, M.phoneIcon(), who, h("span", {"class": "number"}, call.display));
  }

  function contactedNote(item) {
    var when = t("console_contacted_at", {time: M.localTime(item.contacted_at)});
    var timing = item.contacted_on_time === null ? "" : " · " + t(item.contacted_on_time ? "console_on_time" : "console_late");
    return h("p", {"class": "done-note", id: "contacted-note"}, "✓ " + when + timing);
  }

  function attachmentsSection(code) {
    var section = h("section", {"class": "card", hidden: true, "aria-labelledby": "media-title"});
    M.api("GET", "/api/v1/cases/" + code + "/attachments").then(function (answer) {
      if (answer.status !== 200 || !Array.isArray(answer.body) || !answer.body.length) { return; }
      var photos = answer.body.filter(function (a) { return a.kind === "photo"; });
      var voices = answer.body.filter(function (a) { return a.kind === "voice"; });
      section.appendChild(h("h2", {id: "media-title"}, t("console_photos")));
      if (photos.length) {
        section.appendChild(h("div", {"class": "photos"}, photos.map(function (photo, i) {
          return h("a", {href: photo.url, target: "_blank", rel: "noopener"},
            h("img", {src: photo.thumb_url || photo.url, alt: t("console_photo_alt", {n: i + 1}), loading: "lazy",
                      width: "96", height: "96"}));
        })));
      }
      voices.forEach(function (voice) {
        section.appendChild(h("p", null, h("strong", null, t("console_voice"))));
        section.appendChild(h("audio", {controls: true, preload: "none", src: voice.url, "aria-label": t("console_voice")}));
      });
      section.hidden = false;
    }, function () { /* the case page works without its photos */ });
    return section;
  }

  function locationSection(item) {
    if (!item.location) { return h("p", {"class": "muted"}, t("console_no_location")); }
    var where = item.location.lat.toFixed(5) + ", " + item.location.lng.toFixed(5);
    var accuracy = item.location.accuracy_m ? "（" + t("console_accuracy", {m: Math.round(item.location.accuracy_m)}) + "）" : "";
    return h("section", {"class": "card", "aria-labelledby": "where-title"},
      h("h2", {id: "where-title"}, t("console_location")),
      h("p", null, where + accuracy),
      h("a", {"class": "button", href: item.location.geo_url}, t("console_open_map")));
  }

  function historySection(item) {
    return h("section", {"aria-labelledby": "history-title"},
      h("h2", {id: "history-title"}, t("console_history")),
      h("ol", {"class": "history", id: "history"}, item.events.map(eventLine)));
  }

  function eventLine(event) {
    var label = t("console_event_" + event.kind);
    return h("li", null, M.timeEl(event.at), " ", h("strong", null, label.indexOf("console_event_") === 0 ? event.kind : label),
      event.actor ? " · " + event.actor : "", event.text ? "：" + event.text : "");
  }

  function noteForm(code) {
    var text = h("textarea", {id: "note-text", name: "text", maxlength: "500", rows: "3"});
    var button = h("button", {"class": "button primary", type: "submit"}, t("console_save_note"));
    var form = h("form", null, h("label", {"for": "note-text"}, t("console_note_label")), text,
                 h("div", {"class": "actions"}, button));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) { M.say(t("console_note_empty"), true); return; }
      button.disabled = true;
      M.api("POST", "/api/v1/cases/" + code + "/notes", {text: text.value}).then(function (answer) {
        button.disabled = false;
        if (answer.status !== 201) { M.say(M.errorMessage(answer), true); return; }
        document.getElementById("history").appendChild(eventLine(answer.body));
        text.value = "";
        M.say(t("console_note_saved"));
      }, function () { button.disabled = false; M.offline(); });
    });
    return form;
  }

  function actions(item, code) {
    if (item.status === "closed") { return h("p", {"class": "done-note"}, "✓ " + t("console_status_closed")); }
    if (item.status !== "open") { return [item.calls.map(callLink), contactedNote(item)]; }
    var contacted = h("button", {"class": "big done", type: "button", id: "contacted"}, t("contacted_button"));
    var box = h("div", null, item.calls.map(callLink), h("p", {"class": "muted"}, t("console_call_hint")), contacted);
    contacted.addEventListener("click", function () {
      contacted.disabled = true;
      M.api("POST", "/api/v1/cases/" + code + "/contact", {}).then(function (answer) {
        if (answer.status === 401) { M.showLogin(function () { loadCase(code); }); return; }
        if (answer.status !== 200) { contacted.disabled = false; M.say(M.errorMessage(answer), true); return; }
        item.status = answer.body.status;
        item.contacted_at = answer.body.contacted_at;
        item.contacted_on_time = answer.body.contacted_on_time;
        box.replaceChild(contactedNote(item), contacted);
        var due = document.querySelector("#case-head [data-due]");
        if (due) { due.replaceWith(h("span", {"class": "tag green"}, t("console_status_contacted"))); }
        var ack = document.getElementById("ack");
        if (ack) { ack.remove(); }
        M.say(t("console_status_contacted"));
      }, function () { contacted.disabled = false; M.offline(); });
    });
    if (item.my_ack_path) {
      var ack = h("button", {"class": "big secondary", type: "button", id: "ack"}, t("ack_button"));
      ack.addEventListener("click", function () {
        ack.disabled = true;
        M.api("POST", item.my_ack_path).then(function (answer) {
          if (answer.status !== 200) { ack.disabled = false; M.say(M.errorMessage(answer), true); return; }
          ack.replaceWith(h("p", {"class": "done-note"}, "✓ " + t("acked_note")));
        }, function () { ack.disabled = false; M.offline(); });
      });
      box.appendChild(ack);
    }
    return box;
  }

  function loadCase(code) {
    M.api("GET", "/api/v1/cases/" + encodeURIComponent(code)).then(function (answer) {
      if (M.handled(answer, function () { loadCase(code); })) { return; }
      var item = answer.body;
      M.syncClock(item.now);
      document.title = M.categoryName(item.category) + " · " + t("app_name");
      M.mount([
        h("a", {"class": "back", href: /[?&]from=d\b/.test(location.search) ? "/d" : "/w"}, "‹ " + t("console_back")),
        h("div", {id: "case-head"},
          h("div", {"class": "head-row"}, h("h1", null, M.categoryName(item.category)),
            item.status === "open" ? M.countdown(item.contact_due_at)
              : h("span", {"class": "tag green"}, t("console_status_" + item.status))),
          h("p", {"class": "muted"}, item.grid.name + " · ", h("span", {"class": "code"}, M.trackingCode(item.tracking_code))),
          item.assigned_to ? h("p", null, h("span", {"class": "tag amber"}, t("console_assigned_to", {name: item.assigned_to.name}))) : null),
        h("p", {"class": "description card"}, item.description),
        actions(item, item.tracking_code),
        attachmentsSection(item.tracking_code),
        locationSection(item),
        historySection(item),
        noteForm(item.tracking_code)
      ]);
    }, M.offline);
  }

  if (M.data.view === "case") {
    loadCase(M.data.code);
  } else {
    loadInbox();
  }
})();
