/* The community dispatcher's board (/d): grids, open cases, who was paged, reassign, notes, the three figures. */
(function () {
  "use strict";

  var M = window.Mashang;
  var t = M.t, h = M.h;
  var REFRESH_MS = 60 * 1000;
  var current = new URLSearchParams(location.search).get("community");
  var refreshTimer = null;

  function percent(rate) { return rate.rate === null ? "—" : Math.round(rate.rate * 1000) / 10 + "%"; }

  function figureTile(label, value, sub) {
    return h("li", {"class": "figure"}, h("span", {"class": "label"}, label),
             h("span", {"class": "sub"}, sub), h("span", {"class": "value"}, value));
  }

  function figures(board) {
    var f = board.figures;
    return h("section", {"aria-labelledby": "figures-title"},
      h("h2", {id: "figures-title"}, t("console_figures_title", {days: f.period_days})),
      h("ul", {"class": "figures"},
        figureTile(t("console_on_time_rate"), percent(f.on_time_contact),
                   t("console_of", {a: f.on_time_contact.count, b: f.on_time_contact.total})),
        figureTile(t("console_completion_rate"), percent(f.completion),
                   t("console_of", {a: f.completion.count, b: f.completion.total})),
        figureTile(t("console_satisfaction"), f.satisfaction === null ? "—" : percent({rate: f.satisfaction}),
                   t("console_not_collected"))));
  }

  function number(value) { return h("td", {"class": value ? "hot" : null}, String(value)); }

  function gridsTable(board) {
    return h("table", {"class": "grids"},
      h("caption", null, t("console_grids_title")),
      h("thead", null, h("tr", null, h("th", {scope: "col"}, t("console_col_grid")), h("th", {scope: "col"}, t("console_col_open")),
        h("th", {scope: "col"}, t("console_col_overdue")), h("th", {scope: "col"}, t("console_col_unassigned")))),
      h("tbody", null, board.grids.map(function (grid) {
        var who = grid.vacant ? h("span", {"class": "tag red"}, t("console_vacant"))
          : h("span", {"class": "muted"}, [grid.worker, grid.backup].filter(Boolean).join("、"));
        return h("tr", {"data-grid": grid.code}, h("th", {scope: "row"}, grid.name, h("br"), who),
          h("td", null, String(grid.open)), number(grid.overdue), number(grid.unassigned));
      })));
  }

  function pagedLine(paged) {
    var delivery = paged.delivered ? t("console_delivered")
      : paged.attempts ? t("console_not_delivered", {n: paged.attempts}) : t("console_sending");
    var ack = paged.acked_at ? t("console_acked_at", {time: M.localTime(paged.acked_at)}) : t("console_not_acked");
    return h("li", null, h("strong", null, paged.name), "（" + M.roleName(paged.role) + "）", h("br"),
      h("span", {"class": paged.delivered ? "tag green" : "tag amber"}, delivery),
      h("span", {"class": paged.acked_at ? "tag green" : "tag"}, ack),
      h("span", {"class": "when"}, t("console_pages", {n: paged.pages})));
  }

  function reassignForm(item, board) {
    var id = "reassign-" + item.tracking_code;
    var choices = board.workers.filter(function (w) { return !item.assigned_to || w.id !== item.assigned_to.id; });
    var select = h("select", {id: id, name: "worker_phone", required: true},
      h("option", {value: ""}, t("console_choose_worker")),
      choices.map(function (w) { return h("option", {value: w.phone}, w.name + " · " + w.grid.name); }));
    var button = h("button", {"class": "button primary", type: "submit"}, t("console_reassign_button"));
    var form = h("form", {"data-reassign": item.tracking_code}, h("label", {"for": id}, t("console_reassign_label")), select,
                 h("div", {"class": "actions"}, button));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!select.value) { select.focus(); return; }
      button.disabled = true;
      M.api("POST", "/api/v1/cases/" + item.tracking_code + "/reassign", {worker_phone: select.value}).then(function (answer) {
        button.disabled = false;
        if (answer.status !== 200) { M.say(M.errorMessage(answer), true); return; }
        M.say(t("console_reassigned_done", {name: answer.body.assigned_to.name}));
        load();
      }, function () { button.disabled = false; M.offline(); });
    });
    return form;
  }

  function noteForm(item, notesList) {
    var id = "note-" + item.tracking_code;
    var text = h("textarea", {id: id, name: "text", maxlength: "500", rows: "2"});
    var button = h("button", {"class": "button primary", type: "submit"}, t("console_save_note"));
    var form = h("form", {"data-note": item.tracking_code}, h("label", {"for": id}, t("console_note_label")), text,
                 h("div", {"class": "actions"}, button));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) { M.say(t("console_note_empty"), true); return; }
      button.disabled = true;
      M.api("POST", "/api/v1/cases/" + item.tracking_code + "/notes", {text: text.value}).then(function (answer) {
        button.disabled = false;
        if (answer.status !== 201) { M.say(M.errorMessage(answer), true); return; }
        notesList.appendChild(noteLine(answer.body));
        text.value = "";
        M.say(t("console_note_saved"));
      }, function () { button.disabled = false; M.offline(); });
    });
    return form;
  }

  function noteLine(note) {
    return h("li", null, M.timeEl(note.at), " ", h("strong", null, note.actor || ""), "：" + note.text);
  }

  function caseCard(item, board) {
    var badges = [];
    if (item.unassigned) { badges.push(h("span", {"class": "tag red"}, t("console_unassigned_badge"))); }
    if (item.assigned_to) { badges.push(h("span", {"class": "tag amber"}, t("console_handler", {name: item.assigned_to.name}))); }
    var notesList = h("ul", {"class": "notes"}, item.notes.map(noteLine));
    var titleId = "case-" + item.tracking_code;
    return h("article", {"class": "board-case" + (item.overdue ? " is-overdue" : "") + (item.unassigned ? " is-unassigned" : ""),
                         "data-case": item.tracking_code, "aria-labelledby": titleId},
      h("div", {"class": "case row"}, h("h3", {id: titleId}, M.categoryName(item.category)),
        item.status === "open" ? M.countdown(item.contact_due_at) : h("span", {"class": "tag green"}, t("console_status_" + item.status))),
      h("p", {"class": "muted"}, item.grid.name + " · ", h("span", {"class": "code"}, M.trackingCode(item.tracking_code))),
      h("p", null, item.summary),
      badges.length ? h("p", null, badges) : null,
      h("p", null, h("strong", null, t("console_paged_title"))),
      item.paging.length ? h("ul", {"class": "paged"}, item.paging.map(pagedLine)) : h("p", {"class": "muted"}, t("console_nobody_paged")),
      notesList,
      h("div", {"class": "actions"}, h("a", {"class": "button", href: "/w/c/" + item.tracking_code + "?from=d"}, t("console_open_case"))),
      h("details", null, h("summary", null, t("console_handle")), reassignForm(item, board), noteForm(item, notesList)));
  }

  function communityPicker(board) {
    if (board.communities.length < 2) { return null; }
    var select = h("select", {id: "community", name: "community"}, board.communities.map(function (c) {
      return h("option", {value: c.code, selected: c.code === board.community.code}, c.name);
    }));
    select.addEventListener("change", function () {
      current = select.value;
      history.replaceState(null, "", "/d?community=" + encodeURIComponent(current));
      load();
    });
    return h("div", null, h("label", {"for": "community"}, t("console_community_label")), select);
  }

  function busy() {
    var open = document.querySelector("details[open]");
    var active = document.activeElement;
    return Boolean(open) || (active && active.form);
  }

  function load() {
    var path = "/api/v1/board" + (current ? "?community=" + encodeURIComponent(current) : "");
    M.api("GET", path).then(function (answer) {
      if (answer.status === 403 && answer.body && answer.body.error && answer.body.error.code === "board_forbidden") {
        M.mount(h("p", {"class": "card"}, M.errorMessage(answer), " ", h("a", {"class": "button", href: "/w"}, t("console_inbox_link"))));
        return;
      }
      if (M.handled(answer, load)) { return; }
      var board = answer.body;
      M.syncClock(board.now);
      M.showNav({role: "dispatcher"});
      if (!board.community) { M.mount([h("h1", null, t("console_board_title")), h("p", {"class": "card"}, t("console_no_community"))]); return; }
      M.mount([
        h("h1", null, board.community.name),
        communityPicker(board),
        figures(board),
        gridsTable(board),
        h("h2", null, t("console_cases_title")),
        board.cases.length ? board.cases.map(function (item) { return caseCard(item, board); })
          : h("p", {"class": "card"}, t("console_no_cases"))
      ]);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(function again() {
        if (document.visibilityState === "visible" && !busy()) { load(); } else { refreshTimer = setTimeout(again, REFRESH_MS); }
      }, REFRESH_MS);
    }, M.offline);
  }

  load();
})();
