// The resident pages' service worker: it keeps the app shell and the pages a resident opened, so /g/…
// opens with no network. It only serves files. Reports are kept and sent by the page itself (queue.js),
// so a phone without a service worker (WeChat, plain http, blocked) loses nothing but offline opening.

const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const SHELL_CACHE = 'mashang-shell-' + VERSION;
const PAGE_CACHE = 'mashang-pages';
const ASSETS = '/pwa/r/' + VERSION + '/';
const SHELL = ['resident.css', 'common.js', 'app.js', 'queue.js', 'media.js', 'track.js', 'icon-192.png']
  .map((name) => ASSETS + name);
const PAGES = /^\/(g|t)\/[^/]+$|^\/privacy$/;
// With a copy in hand, a weak signal gets this long before the copy is shown instead.
const NETWORK_GRACE_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(names
    .filter((name) => name.indexOf('mashang-shell-') === 0 && name !== SHELL_CACHE)
    .map((name) => caches.delete(name)))).then(() => self.clients.claim()));
});

self.addEventListener('message', (event) => {
  const message = event.data || {};
  if (message.type === 'cache-page' && typeof message.url === 'string') event.waitUntil(keepPage(message.url));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf('/pwa/r/') === 0) event.respondWith(asset(request, url));
  else if (request.mode === 'navigate' && PAGES.test(url.pathname)) event.respondWith(page(event, request));
  // Everything else (the API above all) goes to the network untouched.
});

function keepPage(href) {
  const url = new URL(href, self.location.origin);
  if (url.origin !== self.location.origin || !PAGES.test(url.pathname)) return Promise.resolve();
  return fetch(url.href, { credentials: 'same-origin' }).then((response) => {
    if (response.ok && !response.redirected) return caches.open(PAGE_CACHE).then((cache) => cache.put(url.href, response));
    return undefined;
  }).catch(() => {});
}

function asset(request, url) {
  return caches.match(request).then((cached) => cached || fetch(request).then((response) => {
    if (response.ok && url.pathname.indexOf(ASSETS) === 0) {
      const copy = response.clone();
      caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch((error) => {
    // A page kept before an update names the old version's files: today's file of the same name will do.
    const name = url.pathname.split('/').slice(4).join('/');
    return caches.match(ASSETS + name).then((same) => {
      if (same) return same;
      throw error;
    });
  }));
}

function page(event, request) {
  const key = request.url;
  const network = fetch(request).then((response) => {
    const done = caches.open(PAGE_CACHE).then((cache) => {
      if (response.ok && !response.redirected) return cache.put(key, response.clone());
      // A grid code replaced or removed since: never show the old page again.
      if (response.status === 404 || response.status === 410) return cache.delete(key);
      return undefined;
    });
    event.waitUntil(done.catch(() => {}));
    return response;
  });
  return caches.open(PAGE_CACHE).then((cache) => cache.match(key).then((cached) => {
    if (!cached) {
      return network.catch((error) => cache.match(key, { ignoreSearch: true }).then((other) => {
        if (other) return other;
        throw error;
      }));
    }
    const grace = new Promise((resolve) => { setTimeout(() => resolve(cached), NETWORK_GRACE_MS); });
    return Promise.race([network.catch(() => cached), grace]);
  }));
}
