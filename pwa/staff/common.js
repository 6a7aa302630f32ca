/* Shared by the staff consoles: strings, DOM building, the API with the CSRF header, countdowns, login, Web Push. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("console-data").textContent);
  var strings = data.strings;
  var skewMs = 0; // server clock minus this phone's clock: countdowns follow the server, not a wrong phone clock

  function t(key, values) {
    var text = strings[key] || key;
    if (values) {
      Object.keys(values).forEach(function (name) { text = text.split("{" + name + "}").join(String(values[name])); });
    }
    return text;
  }

  /* h("a", {href: "/w", class: "x"}, "text", child, [more]) */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name.slice(0, 2) === "on") { el.addEventListener(name.slice(2), value); } else { el.setAttribute(name, value === true ? "" : value); }
    });
    for (var i = 2; i < arguments.length; i++) { append(el, arguments[i]); }
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }

  function mount(node) {
    var app = document.getElementById("app");
    app.textContent = "";
    append(app, node);
  }

  function say(message, isError) {
    var status = document.getElementById("status");
    status.textContent = message || "";
    status.className = "status" + (isError ? " error" : "");
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)mashang_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* Resolves to {status, body}; rejects only when the network fails. */
  function api(method, path, body, extraHeaders) {
    var headers = {"Accept": "application/json"};
    if (method !== "GET") { headers["X-CSRF-Token"] = csrfToken(); }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    Object.keys(extraHeaders || {}).forEach(function (k) { headers[k] = extraHeaders[k]; });
    return fetch(path, {method: method, headers: headers, credentials: "same-origin", cache: "no-store",
                        body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
          return {status: response.status, body: parsed};
        });
      });
  }

  function errorMessage(answer) {
    var error = answer && answer.body && answer.body.error;
    if (error) { return data.lang === "en" ? error.message_en : error.message; }
    return t("console_error");
  }

  function syncClock(serverNow) { skewMs = Date.parse(serverNow) - Date.now(); }
  function nowMs() { return Date.now() + skewMs; }

  function duration(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds >= 3600) {
      return t("console_hours_minutes", {h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60)});
    }
    return t("console_minutes_seconds", {m: Math.floor(seconds / 60), s: seconds % 60});
  }

  var URGENT_MS = 10 * 60 * 1000;

  function paintCountdown(el) {
    var left = Date.parse(el.getAttribute("data-due")) - nowMs();
    var text, state;
    if (left > 0) {
      text = t("console_due_in", {time: duration(left)});
      state = left <= URGENT_MS ? "due urgent" : "due";
    } else {
      text = t("console_overdue_by", {time: duration(-left)});
      state = "due overdue";
    }
    if (el.textContent !== text) { el.textContent = text; }
    if (el.className !== state) { el.className = state; }
  }

  function countdown(dueIso) {
    var el = h("span", {"class": "due", "data-due": dueIso});
    paintCountdown(el);
    return el;
  }

  setInterval(function () {
    var all = document.querySelectorAll("[data-due]");
    for (var i = 0; i < all.length; i++) { paintCountdown(all[i]); }
  }, 1000);

  var timeFormat = new Intl.DateTimeFormat(data.lang === "en" ? "en-GB" : "zh-CN",
    {timeZone: data.tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});

  function localTime(iso) { return iso ? timeFormat.format(new Date(iso)) : ""; }

  function timeEl(iso) { return h("time", {datetime: iso}, localTime(iso)); }

  /* A handset drawn inline (no emoji font needed, nothing fetched). */
  function phoneIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 " +
                           "1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 " +
                           "1 0 0 1-.25 1z");
    svg.appendChild(path);
    return svg;
  }

  function trackingCode(code) { return code.length > 5 ? code.slice(0, 5) + "-" + code.slice(5) : code; }

  function categoryName(category) { return data.lang === "en" ? category.name_en : category.name; }

  function roleName(role) { return t("console_role_" + role); }

  /* The phone + password form; calls onDone once a session cookie is set. */
  function showLogin(onDone) {
    say("");
    var phone = h("input", {id: "login-phone", name: "phone", type: "tel", inputmode: "tel", autocomplete: "username",
                            required: true, maxlength: "40"});
    var password = h("input", {id: "login-password", name: "password", type: "password", required: true,
                               autocomplete: "current-password", maxlength: "200"});
    var button = h("button", {"class": "big", type: "submit"}, t("console_login_button"));
    var form = h("form", {"class": "card", novalidate: true},
      h("label", {"for": "login-phone"}, t("console_phone_label")), phone,
      h("label", {"for": "login-password"}, t("console_password_label")), password, button);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      api("POST", "/api/v1/auth/login", {phone: phone.value, password: password.value}).then(function (answer) {
        button.disabled = false;
        if (answer.status === 200) { say(""); onDone(); } else { say(errorMessage(answer), true); }
      }, function () { button.disabled = false; say(t("console_offline"), true); });
    });
    mount([h("h1", null, t("console_login_title")), form]);
    phone.focus();
  }

  /* The header's links once we know who is signed in. */
  function showNav(person) {
    var nav = document.getElementById("nav");
    if (!person || nav.getAttribute("data-done")) { return; }
    nav.setAttribute("data-done", "1");
    var here = location.pathname;
    var links = [];
    if (here !== "/w") { links.push(h("a", {href: "/w"}, t("console_inbox_link"))); }
    if (here !== "/d" && ["dispatcher", "supervisor", "admin"].indexOf(person.role) >= 0) {
      links.push(h("a", {href: "/d"}, t("console_board_link")));
    }
    links.push(h("button", {"class": "link", type: "button", onclick: function () {
      api("POST", "/api/v1/auth/logout").then(function () { location.href = location.pathname; });
    }}, t("console_logout")));
    var lang = nav.firstChild;
    links.forEach(function (link) { nav.insertBefore(link, lang); });
  }

  /* Handles the answers every view treats alike; returns true when the caller should stop. */
  function handled(answer, retry) {
    if (answer.status === 401) { showLogin(retry); return true; }
    if (answer.status !== 200 && answer.status !== 201) { mount(h("p", {"class": "card"}, errorMessage(answer))); return true; }
    return false;
  }

  function offline() { say(t("console_offline"), true); }

  /* Web Push opt-in: only where the browser has it, never inside WeChat, only if the server has a key. */
  function pushSupported() {
    return "PushManager" in window && "serviceWorker" in navigator && window.isSecureContext &&
      !/MicroMessenger/i.test(navigator.userAgent);
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  /* The worker's registration once active; not navigator.serviceWorker.ready, which waits for one controlling this page. */
  function activeRegistration() {
    return navigator.serviceWorker.register("/w/sw.js", {scope: "/w"}).then(function (registration) {
      var worker = registration.installing || registration.waiting;
      if (registration.active || !worker) { return registration; }
      return new Promise(function (resolve) {
        worker.addEventListener("statechange", function () { if (worker.state === "activated") { resolve(registration); } });
      });
    });
  }

  function subscribe(publicKey) {
    return activeRegistration()
      .then(function (registration) {
        return registration.pushManager.getSubscription().then(function (existing) {
          return existing || registration.pushManager.subscribe({userVisibleOnly: true,
                                                                 applicationServerKey: keyBytes(publicKey)});
        });
      })
      .then(function (subscription) { return api("POST", "/api/v1/push/subscriptions", subscription.toJSON()); })
      .then(function (answer) { if (answer.status !== 200 && answer.status !== 201) { throw new Error("refused"); } });
  }

  function offerPush(container) {
    if (!pushSupported()) { return; }
    api("GET", "/api/v1/push/key").then(function (answer) {
      if (answer.status !== 200 || !answer.body || !answer.body.public_key) { return; }
      var button = h("button", {"class": "big secondary", type: "button", id: "push-button"}, t("console_push_button"));
      button.addEventListener("click", function () {
        button.disabled = true;
        subscribe(answer.body.public_key).then(function () {
          container.replaceChild(h("p", {"class": "done-note"}, t("console_push_on")), button);
        }, function () { button.disabled = false; say(t("console_push_failed"), true); });
      });
      container.appendChild(button);
    }, function () { /* offline: no button, nothing to say */ });
  }

  window.Mashang = {data: data, t: t, h: h, mount: mount, say: say, api: api, errorMessage: errorMessage,
                    syncClock: syncClock, countdown: countdown, localTime: localTime, timeEl: timeEl,
                    trackingCode: trackingCode, phoneIcon: phoneIcon, categoryName: categoryName, roleName: roleName, showLogin: showLogin,
                    showNav: showNav, handled: handled, offline: offline, offerPush: offerPush};
})();
