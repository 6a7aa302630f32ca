// The resident's report page (/g/…). The form already works as plain HTML; this script sends it through
// the JSON API instead, keeps every report on the phone until the server has it (queue.js), and adds
// photos, the voice note and the location (media.js). Messages appear in the page: no alert or confirm.

import { data, el, formatTime, t } from './common.js';
import * as queue from './queue.js';
import { setupLocation, setupPhotos, setupVoice } from './media.js';

const form = document.getElementById('report');
const submitButton = document.getElementById('submit');
const formStatus = document.getElementById('form-status');
const helper = document.getElementById('helper');
const queueBox = document.getElementById('queue');
const queueList = document.getElementById('queue-list');
const queueNote = document.getElementById('queue-note');
const grid = data.grid || {};

const photos = setupPhotos();
const voice = setupVoice();
const place = setupLocation();

// Our own messages replace the browser's validation bubbles; a voice note can stand in for the words.
form.noValidate = true;
document.getElementById('description').removeAttribute('required');

const value = (name) => {
  const field = form.elements[name];
  return field ? String(field.value || '').trim() : '';
};

// Where each error is said, by the API's field name.
const PLACES = {
  category: 'category', description: 'description', contact_phone: 'contact_phone',
  'on_behalf_of.phone': 'relative_phone', 'on_behalf_of.name': 'relative', 'on_behalf_of.relation': 'relative',
  on_behalf_of: 'relative',
};
const FIRST_FIELD = {
  category: 'input[name=category]', description: '#description', contact_phone: '#contact_phone',
  relative: '#relative_name', relative_phone: '#relative_phone',
};

function clearErrors() {
  Array.prototype.forEach.call(form.querySelectorAll('.field-error'), (p) => { p.textContent = ''; });
  Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), (f) => f.removeAttribute('aria-invalid'));
  setStatus('', '');
}

function setStatus(text, kind) {
  formStatus.textContent = text;
  formStatus.className = 'form-status' + (kind ? ' ' + kind : '');
}

function showErrors(errors) {
  const places = Object.keys(errors);
  places.forEach((place) => {
    const message = document.getElementById('err-' + place);
    if (message) message.textContent = errors[place];
    const field = form.querySelector(FIRST_FIELD[place] || '#none');
    if (field && field.type !== 'radio') field.setAttribute('aria-invalid', 'true');
  });
  if (places.some((p) => p.indexOf('relative') === 0)) helper.open = true;
  setStatus(t('form_has_errors') + (errors.form ? ' ' + errors.form : ''), 'error');
  const first = form.querySelector(FIRST_FIELD[places[0]] || '#submit');
  if (first) first.focus();
}

// The server decides what a valid number is; this only catches a slip before the report is kept.
function looksLikePhone(text) {
  const digits = text.replace(/\D/g, '').length;
  return digits >= 7 && digits <= 15;
}

function check() {
  const errors = {};
  if (!form.querySelector('input[name=category]:checked')) errors.category = t('need_category');
  if (!value('description') && !voice.has()) errors.description = t('need_description');
  if (!value('contact_phone')) errors.contact_phone = t('need_phone');
  else if (!looksLikePhone(value('contact_phone'))) errors.contact_phone = t('invalid_phone');
  if (helper.open && (value('relative_name') || value('relative_relation') || value('relative_phone'))) {
    if (!value('relative_name') || !value('relative_relation')) errors.relative = t('need_relative');
    if (value('relative_call') !== 'reporter' && !value('relative_phone')) errors.relative_phone = t('need_relative_phone');
    else if (value('relative_phone') && !looksLikePhone(value('relative_phone'))) errors.relative_phone = t('invalid_phone');
  }
  return errors;
}

function reportBody() {
  const body = {
    grid_token: grid.token,
    category: value('category'),
    // The grid worker reads the description first: a voice-only report says so there.
    description: value('description') || data.voice_only_description,
    contact_phone: value('contact_phone'),
  };
  if (value('contact_name')) body.contact_name = value('contact_name');
  if (helper.open && value('relative_name')) {
    body.on_behalf_of = { name: value('relative_name'), relation: value('relative_relation'), call: value('relative_call') || 'reporter' };
    if (value('relative_phone')) body.on_behalf_of.phone = value('relative_phone');
  }
  const location = place.value();
  if (location) body.location = location;
  return body;
}

function summaryOf(body) {
  const chosen = form.querySelector('input[name=category]:checked');
  const label = chosen ? document.querySelector('label[for="' + chosen.id + '"]').textContent.trim() : body.category;
  const words = value('description');
  return label + (words ? ' · ' + (words.length > 40 ? words.slice(0, 40) + '…' : words) : '');
}

function resetForm() {
  ['description', 'relative_name', 'relative_relation', 'relative_phone'].forEach((name) => { form.elements[name].value = ''; });
  Array.prototype.forEach.call(form.querySelectorAll('input[name=category]'), (radio) => { radio.checked = false; });
  photos.reset();
  voice.reset();
  place.reset();
  helper.open = false;
}

function busy(on, text) {
  submitButton.disabled = on;
  submitButton.textContent = on ? text : t('submit_report');
}

let current = null; // the report this page is sending right now, if any

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (current) return; // a second tap while the first is on its way
  clearErrors();
  const errors = check();
  if (Object.keys(errors).length) {
    showErrors(errors);
    return;
  }
  const body = reportBody();
  const files = photos.files().concat(voice.files());
  busy(true, t('submitting'));
  current = queue.newKey();
  // Kept first, sent second: whatever happens to the network or the page now, the report is not lost.
  queue.keep(body, files, { id: current, grid: grid, summary: summaryOf(body) }).then((record) => (
    queue.flush(data.lang).then(() => queue.get(record.id))
  )).then((record) => {
    current = null;
    busy(false);
    if (!record) return;
    if (record.state === 'sent') {
      location.assign('/t/' + record.report.tracking_code);
      return;
    }
    if (record.state === 'failed') {
      // The server refused what was typed (a phone number it cannot read…): say where, keep the form as it is.
      queue.remove(record.id);
      showErrors({ [PLACES[record.error_field] || 'form']: record.error || '' });
      return;
    }
    resetForm();
    if (record.state === 'queued') queueNote.textContent = t('queue_offline_saved');
    drawQueue().then(() => queueBox.scrollIntoView({ block: 'start' }));
  }).catch(() => {
    current = null;
    busy(false);
    setStatus(t('queue_no_storage'), 'error');
  });
});

// The list of reports kept on this phone.

let sending = null;
const armed = {};

function button(text, onClick, primary) {
  const b = el('button', primary ? 'btn small' : 'btn small quiet', text);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function retryNow() {
  queue.flush(data.lang).catch(() => {});
}

function deleteButton(record) {
  // Two taps instead of a confirm() dialog: the first arms it for a few seconds.
  const b = button(armed[record.id] ? t('queue_delete_confirm') : t('queue_delete'), () => {
    if (armed[record.id]) {
      delete armed[record.id];
      queue.remove(record.id);
      return;
    }
    armed[record.id] = true;
    b.textContent = t('queue_delete_confirm');
    setTimeout(() => {
      delete armed[record.id];
      b.textContent = t('queue_delete');
    }, 5000);
  });
  return b;
}

function trackLink(record) {
  const code = record.report.tracking_code;
  const link = el('a', null, t('queue_view', { code: code.slice(0, 5) + '-' + code.slice(5) }));
  link.href = '/t/' + code;
  return link;
}

function item(record) {
  const li = el('li', 'draft');
  li.setAttribute('data-state', record.state);
  const head = el('p');
  let badge;
  if (sending === record.id) badge = el('span', 'badge', t('queue_sending'));
  else if (record.state === 'sent') badge = el('span', 'badge ok', t('queue_sent'));
  else if (record.state === 'uploading') badge = el('span', 'badge', t('queue_uploads_pending'));
  else badge = el('span', 'badge', t('queue_not_sent'));
  head.appendChild(badge);
  li.appendChild(head);
  li.appendChild(el('p', 'summary', record.summary || ''));
  li.appendChild(el('p', 'meta', t('queue_saved_at', { time: formatTime(record.created_at) })));
  if (record.state === 'replaced') li.appendChild(el('p', 'problem', t('queue_replaced')));
  else if (record.error && record.state !== 'sent') li.appendChild(el('p', 'problem', t('queue_failed', { message: record.error })));
  (record.notes || []).forEach((note) => li.appendChild(el('p', 'problem', t('attachment_dropped', { message: note }))));
  const actions = el('div', 'actions');
  if (record.report) actions.appendChild(trackLink(record));
  if (record.state === 'queued' || record.state === 'uploading') actions.appendChild(button(t('queue_retry'), retryNow, true));
  const phone = record.grid && record.grid.office_phone;
  if (record.state === 'replaced' && phone) {
    const call = el('a', null, t('office_phone_label') + ' ' + (record.grid.office_phone_display || phone));
    call.href = 'tel:' + phone;
    actions.appendChild(call);
  }
  if (record.state !== 'uploading') actions.appendChild(deleteButton(record));
  li.appendChild(actions);
  return li;
}

let drawing = Promise.resolve();

function drawQueue() {
  drawing = drawing.then(() => queue.all()).then((records) => {
    // The report being sent from the form shows its progress on the form's button; the rest show here.
    const shown = records.filter((r) => r.id !== current);
    queueList.textContent = '';
    shown.forEach((record) => queueList.appendChild(item(record)));
    queueBox.hidden = shown.length === 0;
    if (!shown.some((r) => r.state === 'queued' || r.state === 'uploading')) queueNote.textContent = '';
  }, () => {});
  return drawing;
}

queue.onChange((id, what) => {
  sending = what === 'sending' ? id : null;
  if (id === current && what === 'uploading') busy(true, t('uploading'));
  drawQueue();
});

drawQueue();
queue.persistent().then((kept) => { if (!kept) setStatus(t('queue_no_storage'), 'saved'); });
queue.start(data.lang).catch(() => {});
