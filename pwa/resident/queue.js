// Reports are kept on the phone (IndexedDB) until the server has every part of them.
//
// The page does this itself rather than leaving it to a service worker: a service worker may be missing
// (WeChat, plain http, blocked) and Background Sync exists only in some browsers. A report is saved
// before its first attempt, then sent on page load, on the `online` event, on a timer that backs off, and
// when the resident taps "send now". Its Idempotency-Key is made once, with the draft, so every one of
// those attempts is the same report to the server: one case, however many tries or tabs. Photos and the
// voice note are kept as bytes beside it and follow with the case's upload token, each with its own key.

const DB_NAME = 'mashang-resident';
const STORE = 'reports';
const SENT_KEEP_MS = 7 * 24 * 3600 * 1000;
const REPORT_TIMEOUT_MS = 20000;
const UPLOAD_TIMEOUT_MS = 90000;
const FIRST_RETRY_MS = 5000;
const LAST_RETRY_MS = 120000;

let dbPromise = null;
const memory = new Map(); // when IndexedDB cannot be opened: kept for this page only
const listeners = [];

/** Called with (record id or null, what happened) whenever a kept report changes. */
export function onChange(listener) { listeners.push(listener); }
function changed(id, what) { listeners.forEach((listener) => listener(id, what)); }

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve) => {
      let request;
      try {
        request = indexedDB.open(DB_NAME, 1);
      } catch (error) {
        resolve(null);
        return;
      }
      request.onupgradeneeded = () => { request.result.createObjectStore(STORE, { keyPath: 'id' }); };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    });
  }
  return dbPromise;
}

/** Whether kept reports survive a reload here (false in browsers that refuse IndexedDB). */
export function persistent() { return openDb().then((db) => db !== null); }

// work(store) makes one request on the store, or with no database (store null) answers {memory: value}.
function run(mode, work) {
  return openDb().then((db) => {
    if (!db) return (work(null) || {}).memory;
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result && 'result' in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  });
}

function put(record) {
  return run('readwrite', (store) => (store ? store.put(record) : { memory: memory.set(record.id, record) }));
}

export function get(id) {
  return run('readonly', (store) => (store ? store.get(id) : { memory: memory.get(id) }));
}

export function remove(id) {
  return run('readwrite', (store) => (store ? store.delete(id) : { memory: memory.delete(id) }))
    .then(() => changed(id, 'removed'));
}

/** Every kept report, oldest first. */
export function all() {
  return run('readonly', (store) => (store ? store.getAll() : { memory: Array.from(memory.values()) }))
    .then((records) => (records || []).sort((a, b) => a.created_at - b.created_at));
}

/** A UUID for an Idempotency-Key; crypto.randomUUID exists only in secure contexts and newer browsers. */
export function newKey() {
  const cryptoApi = window.crypto;
  if (cryptoApi && typeof cryptoApi.randomUUID === 'function') return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  if (cryptoApi && cryptoApi.getRandomValues) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.prototype.map.call(bytes, (b) => (b + 256).toString(16).slice(1)).join('');
  return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
}

function bytesOf(blob) {
  return blob.arrayBuffer ? blob.arrayBuffer() : new Response(blob).arrayBuffer();
}

/**
 * Keep a new report: body is the API's JSON body; files are [{kind, blob, filename}]; summary is what the
 * list shows. Bytes rather than Blobs are stored: some in-app browsers cannot keep Blobs in IndexedDB.
 */
export function keep(body, files, extra) {
  return Promise.all(files.map((file) => bytesOf(file.blob))).then((buffers) => {
    const record = Object.assign({
      id: newKey(), created_at: Date.now(), state: 'queued', body: body, report: null, error: null, notes: [],
      attachments: files.map((file, index) => ({
        key: newKey(), kind: file.kind, type: file.blob.type || 'application/octet-stream',
        filename: file.filename, data: buffers[index], done: false,
      })),
    }, extra);
    return put(record).then(() => { changed(record.id, 'kept'); return record; });
  });
}

function timed(url, options, ms) {
  if (typeof AbortController !== 'function') return fetch(url, options);
  // A weak signal can hang a request for minutes: give up and let the retry (same key) try again.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  options.signal = controller.signal;
  return fetch(url, options).then((response) => { clearTimeout(timer); return response; },
    (error) => { clearTimeout(timer); throw error; });
}

function errorOf(response) {
  return response.json().then((body) => (body && body.error) || {}, () => ({}));
}

function messageOf(error, lang) {
  return (lang === 'en' ? error.message_en : error.message) || error.message || '';
}

// Worth another try later: the network, the server busy or restarting, the same report still in flight,
// or an answer that is not ours at all (a captive portal's page).
function retryable(status, error) {
  return status === 408 || status === 425 || status === 429 || status >= 500 || !error.code
    || error.code === 'idempotency_in_flight';
}

function sendReport(record, lang) {
  return timed('/api/v1/reports', {
    method: 'POST', credentials: 'same-origin', body: JSON.stringify(record.body),
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': record.id },
  }, REPORT_TIMEOUT_MS).then((response) => {
    if (response.status === 201) {
      return response.json().then((answer) => {
        record.report = { tracking_code: answer.tracking_code, upload_token: answer.upload_token };
        record.state = 'uploading';
        record.error = null;
        return put(record).then(() => 'ok');
      });
    }
    return errorOf(response).then((error) => {
      record.error = messageOf(error, lang) || null;
      if (response.status === 410) record.state = 'replaced';
      else if (!retryable(response.status, error)) {
        record.state = 'failed';
        record.error_field = error.field || null;
      }
      return put(record).then(() => (record.state === 'queued' ? 'retry' : record.state));
    });
  }, () => 'retry');
}

function sendAttachment(record, attachment, lang) {
  const form = new FormData();
  form.append('file', new Blob([attachment.data], { type: attachment.type }), attachment.filename);
  return timed('/api/v1/reports/' + encodeURIComponent(record.report.tracking_code) + '/attachments', {
    method: 'POST', credentials: 'same-origin', body: form,
    headers: { 'X-Upload-Token': record.report.upload_token, 'Idempotency-Key': attachment.key },
  }, UPLOAD_TIMEOUT_MS).then((response) => {
    if (response.ok) return 'ok';
    return errorOf(response).then((error) => {
      if (retryable(response.status, error)) return 'retry';
      // Refused for good (too large, window closed, limit reached): the report stands without this file.
      record.notes.push(messageOf(error, lang));
      return 'dropped';
    });
  }, () => 'retry').then((outcome) => {
    if (outcome === 'retry') return outcome;
    attachment.done = true;
    attachment.data = null;
    return put(record).then(() => outcome);
  });
}

function sendOne(record, lang) {
  const first = record.report ? Promise.resolve('ok') : sendReport(record, lang);
  return first.then((outcome) => {
    if (outcome !== 'ok') return outcome;
    changed(record.id, 'uploading');
    const next = (index) => {
      if (index >= record.attachments.length) return Promise.resolve('ok');
      const attachment = record.attachments[index];
      if (attachment.done) return next(index + 1);
      return sendAttachment(record, attachment, lang).then((result) => (result === 'retry' ? 'retry' : next(index + 1)));
    };
    return next(0);
  }).then((outcome) => {
    if (outcome !== 'ok') return outcome;
    // Sent: keep only what the list shows (the code), not the words or the phone number.
    record.state = 'sent';
    record.sent_at = Date.now();
    record.body = null;
    record.attachments = [];
    return put(record).then(() => 'sent');
  });
}

let running = null;
let again = false;
let timer = null;
let retryDelay = FIRST_RETRY_MS;

function withLock(work) {
  // One sender across tabs where the browser can say so; the server's keys make a race harmless anyway.
  if (navigator.locks && navigator.locks.request) return navigator.locks.request('mashang-reports', work);
  return work();
}

function flushOnce(lang) {
  return all().then((records) => {
    const due = records.filter((r) => r.state === 'queued' || r.state === 'uploading');
    const stale = records.filter((r) => r.state === 'sent' && Date.now() - r.sent_at > SENT_KEEP_MS);
    let waiting = false;
    const step = (index) => {
      if (index >= due.length) return Promise.resolve();
      const record = due[index];
      changed(record.id, 'sending');
      return sendOne(record, lang).then((outcome) => {
        if (outcome === 'retry') waiting = true;
        changed(record.id, outcome);
        return step(index + 1);
      });
    };
    return Promise.all(stale.map((r) => remove(r.id))).then(() => step(0)).then(() => waiting);
  });
}

/** Send every kept report that is not yet sent; resolves when this round is over. */
export function flush(lang) {
  if (running) {
    again = true;
    return running;
  }
  clearTimeout(timer);
  running = (function round() {
    again = false;
    return withLock(() => flushOnce(lang)).then((waiting) => (again ? round() : waiting));
  }()).then((waiting) => {
    running = null;
    // Online but failing (a weak signal, a busy server): try again later, less and less often.
    if (waiting) {
      timer = setTimeout(() => flush(lang).catch(() => {}), retryDelay);
      retryDelay = Math.min(retryDelay * 2, LAST_RETRY_MS);
    } else {
      retryDelay = FIRST_RETRY_MS;
    }
  }, (error) => {
    running = null;
    throw error;
  });
  return running;
}

/** Send on load, whenever the network comes back, and when the page is shown again. */
export function start(lang) {
  const quietly = () => flush(lang).catch(() => { /* storage refused: the next event tries again */ });
  window.addEventListener('online', () => { retryDelay = FIRST_RETRY_MS; quietly(); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') quietly(); });
  return flush(lang);
}
