// What every resident page's script shares: the page's data and strings, the text-size switch, the
// service worker and the install button. Importing this module sets those up.
//
// Written for old in-app browsers too (WeChat's X5/XWEB): no top-level await, no syntax newer than
// Chromium ~80 in this file; every API that may be missing is tested before use.

export const data = readData();

function readData() {
  const element = document.getElementById('page-data');
  try {
    return JSON.parse(element.textContent);
  } catch (error) {
    return { strings: {} };
  }
}

/** The catalogue string for key (rendered into the page from app/i18n.py), with {name} placeholders filled. */
export function t(key, values) {
  const text = (data.strings && data.strings[key]) || key;
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

// WeChat's browser has its own "add to home screen" menu and no install prompts: offer none there.
export const inWeChat = /MicroMessenger/i.test(navigator.userAgent);
// Camera, microphone, location and service workers need a secure context (https, or localhost).
export const secure = window.isSecureContext !== false;

/** "2024-05-01 09:30" in the service's time zone, as the server writes times. */
export function formatTime(when) {
  const date = new Date(when);
  try {
    const parts = {};
    new Intl.DateTimeFormat('en-GB', {
      timeZone: data.timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(date).forEach((part) => { parts[part.type] = part.value; });
    return parts.year + '-' + parts.month + '-' + parts.day + ' ' + parts.hour + ':' + parts.minute;
  } catch (error) {
    return date.toLocaleString();
  }
}

/** A small element builder: el('p', 'hint', 'text'). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function setupTextSwitch() {
  const link = document.getElementById('text-switch');
  if (!link) return;
  const root = document.documentElement;
  const show = () => {
    const large = root.classList.contains('large');
    link.textContent = t(large ? 'text_normal' : 'text_large');
    link.setAttribute('href', '?text=' + (large ? 'normal' : 'large'));
  };
  // The head script may have applied a remembered choice to a page cached before it was made.
  show();
  link.addEventListener('click', (event) => {
    event.preventDefault();
    const large = !root.classList.contains('large');
    root.classList.toggle('large', large);
    document.cookie = 'mashang_text=' + (large ? 'large' : 'normal') + '; path=/; max-age=31536000; samesite=lax';
    show();
  });
}

function registerServiceWorker() {
  if (!secure || !('serviceWorker' in navigator) || !data.sw) return;
  const register = () => {
    navigator.serviceWorker.register(data.sw, { scope: '/' })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        // The worker was installed after this page loaded, so it has not seen it: ask it to keep a copy.
        if (registration.active) registration.active.postMessage({ type: 'cache-page', url: location.href });
      })
      .catch(() => { /* blocked or unsupported: the page works the same, only not offline-first */ });
  };
  // After load, so fetching the shell for the cache never competes with the page itself.
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register);
}

function setupInstall() {
  const box = document.getElementById('install');
  if (!box || inWeChat) return;
  let deferred = null;
  window.addEventListener('beforeinstallprompt', (event) => {
    // Never a pop-up by itself: the browser's prompt waits for a tap on our own button.
    event.preventDefault();
    deferred = event;
    box.hidden = false;
  });
  box.querySelector('button').addEventListener('click', () => {
    box.hidden = true;
    if (deferred && deferred.prompt) deferred.prompt();
    deferred = null;
  });
  window.addEventListener('appinstalled', () => { box.hidden = true; });
}

setupTextSwitch();
registerServiceWorker();
setupInstall();
