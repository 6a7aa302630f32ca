/* Web Push for staff: show the page as a notification; a tap opens the ack link (or the case page). No caching here. */
"use strict";

self.addEventListener("push", function (event) {
  var page = {};
  try { page = event.data ? event.data.json() : {}; } catch (e) { page = {}; }
  var item = page.case || {};
  var urgent = page.kind === "warning" || page.kind === "escalation" || page.kind === "repage";
  var title = (urgent ? "⚠ " : "") + [item.category, item.grid && item.grid.name].filter(Boolean).join(" · ");
  var url = page.ack_url || (item.tracking_code ? "/w/c/" + item.tracking_code : "/w");
  event.waitUntil(self.registration.showNotification(title || "码上办", {
    body: item.summary || "", tag: item.tracking_code || "mashang", renotify: true, requireInteraction: true,
    data: {url: url}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/w";
  event.waitUntil(self.clients.openWindow(url));
});
