// The tracking page (/t/…): the contact deadline as a live countdown, the status and timeline kept fresh,
// and sharing the link. The page is complete without this script; it only makes it live.

import { data, el, formatTime, t } from './common.js';

const REFRESH_MS = 30000;
const byId = (id) => document.getElementById(id);

let status = data.status;
let due = Date.parse(data.due);
let ticker = null;

function clock(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h ? h + ':' + mm + ':' + ss : mm + ':' + ss;
}

function tick() {
  const box = byId('deadline');
  if (!box) return;
  if (status !== 'open') {
    box.hidden = true;
    clearInterval(ticker);
    return;
  }
  const left = due - Date.now();
  const countdown = byId('countdown');
  byId('countdown-label').textContent = t('countdown_label');
  countdown.textContent = clock(left);
  countdown.setAttribute('role', 'timer');
  byId('overdue').hidden = left > 0;
}

function refresh() {
  if (document.visibilityState === 'hidden' || status === 'closed') return;
  fetch('/api/v1/track/' + encodeURIComponent(data.code), { credentials: 'same-origin' })
    .then((response) => (response.ok ? response.json() : null))
    .then((view) => {
      if (!view) return;
      status = view.status;
      due = Date.parse(view.contact_due_at);
      byId('status').textContent = data.lang === 'en' ? view.status_label_en : view.status_label;
      byId('status').classList.toggle('done', status !== 'open');
      const list = byId('timeline');
      list.textContent = '';
      view.timeline.forEach((entry) => {
        const item = el('li');
        const time = el('time', null, formatTime(entry.at));
        time.setAttribute('datetime', entry.at);
        item.appendChild(time);
        item.appendChild(document.createTextNode(data.lang === 'en' ? entry.label_en : entry.label));
        list.appendChild(item);
      });
      tick();
    }, () => { /* offline: the page shows what it last knew */ });
}

function setupShare() {
  const shareButton = byId('share');
  const copyButton = byId('copy');
  const note = byId('share-status');
  const url = data.url || location.href;
  if (navigator.share) {
    shareButton.hidden = false;
    shareButton.addEventListener('click', () => {
      navigator.share({ title: document.title, url: url }).catch(() => { /* the resident closed the sheet */ });
    });
  }
  if (navigator.clipboard && navigator.clipboard.writeText) {
    copyButton.hidden = false;
    copyButton.addEventListener('click', () => {
      navigator.clipboard.writeText(url).then(() => { note.textContent = t('link_copied'); }, () => {});
    });
  }
  if (shareButton.hidden !== copyButton.hidden) shareButton.parentNode.classList.remove('pair');
}

if (!isNaN(due) && status === 'open') {
  tick();
  ticker = setInterval(tick, 1000);
}
setInterval(refresh, REFRESH_MS);
document.addEventListener('visibilitychange', refresh);
setupShare();
