// The parts of the form that use the phone's hardware: photos, the voice note and the location. Each shows
// itself only where it can work (a secure context and the API present), so where they are missing the
// rest of the form still works; each answers what it holds and can be cleared.

import { el, secure, t } from './common.js';

const PHOTO_LONG_SIDE = 1600; // plenty for a grid worker's phone, and a 12 MP photo shrinks to ~300 KB
const PHOTO_QUALITY = 0.85;
const MAX_PHOTOS = 3; // the server's limit per report
const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const MAX_VOICE_MS = 120000;

const byId = (id) => document.getElementById(id);

function setIcon(button, id) {
  const use = button.querySelector('use');
  if (use) use.setAttribute('href', '#' + id);
}

function setLabel(button, text) {
  const span = button.querySelector('span');
  (span || button).textContent = text;
}

function clock(ms) {
  const seconds = Math.round(ms / 1000);
  return Math.floor(seconds / 60) + ':' + String(seconds % 60).padStart(2, '0');
}

/** A photo as JPEG no longer than PHOTO_LONG_SIDE on its long side; the browser applies EXIF rotation. */
export function downscale(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => {
      URL.revokeObjectURL(url);
      const scale = Math.min(1, PHOTO_LONG_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
      const context = canvas.getContext('2d');
      if (!context || !canvas.toBlob) {
        reject(new Error('no canvas'));
        return;
      }
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('not encoded'))), 'image/jpeg', PHOTO_QUALITY);
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('not decoded'));
    };
    image.src = url;
  });
}

export function setupPhotos() {
  const step = byId('step-photo');
  const cameraButton = byId('photo-camera');
  const galleryButton = byId('photo-gallery');
  const cameraInput = byId('camera-input');
  const galleryInput = byId('gallery-input');
  const list = byId('photo-list');
  const status = byId('photo-status');
  const photos = [];

  step.hidden = false;
  // The camera needs a secure context; the gallery (which also offers the camera on most phones) does not.
  cameraButton.hidden = !secure;
  if (!secure) cameraButton.parentNode.classList.remove('pair');
  cameraButton.addEventListener('click', () => cameraInput.click());
  galleryButton.addEventListener('click', () => galleryInput.click());

  const render = () => {
    list.textContent = '';
    photos.forEach((photo, index) => {
      const item = el('li');
      const image = el('img');
      image.alt = '';
      image.src = photo.url;
      const remove = el('button');
      remove.type = 'button';
      remove.setAttribute('aria-label', t('photo_remove', { n: index + 1 }));
      remove.innerHTML = '<svg class="icon" aria-hidden="true"><use href="#i-close"/></svg>';
      remove.addEventListener('click', () => {
        URL.revokeObjectURL(photos[index].url);
        photos.splice(index, 1);
        render();
        galleryButton.focus();
      });
      item.appendChild(image);
      item.appendChild(remove);
      list.appendChild(item);
    });
    const full = photos.length >= MAX_PHOTOS;
    cameraButton.disabled = full;
    galleryButton.disabled = full;
    if (full) status.textContent = t('photo_limit');
  };

  const addFile = (file) => downscale(file).catch(() => {
    // Could not redraw it here (an old browser): send the original if the server can read it.
    if (/^image\/(jpeg|png|webp)$/.test(file.type) && file.size <= MAX_PHOTO_BYTES) return file;
    throw new Error('unreadable');
  }).then((blob) => {
    photos.push({ blob: blob, url: URL.createObjectURL(blob) });
  });

  const take = (input) => {
    const files = Array.prototype.slice.call(input.files || [], 0, MAX_PHOTOS - photos.length);
    input.value = ''; // so the same photo can be chosen again after removing it
    if (!files.length) return;
    status.textContent = t('photo_preparing');
    let failed = false;
    files.reduce((chain, file) => chain.then(() => addFile(file).catch(() => { failed = true; })), Promise.resolve())
      .then(() => {
        status.textContent = failed ? t('photo_failed') : '';
        render();
      });
  };
  cameraInput.addEventListener('change', () => take(cameraInput));
  galleryInput.addEventListener('change', () => take(galleryInput));

  return {
    files: () => photos.map((photo, index) => ({ kind: 'photo', blob: photo.blob, filename: 'photo-' + (index + 1) + '.jpg' })),
    reset: () => {
      photos.splice(0).forEach((photo) => URL.revokeObjectURL(photo.url));
      status.textContent = '';
      render();
    },
  };
}

export function canRecord() {
  return secure && !!navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function'
    && typeof window.MediaRecorder === 'function';
}

function recordingType() {
  const types = ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4', 'audio/ogg;codecs=opus'];
  if (typeof MediaRecorder.isTypeSupported !== 'function') return '';
  return types.find((type) => MediaRecorder.isTypeSupported(type)) || '';
}

export function setupVoice() {
  const none = { files: () => [], has: () => false, reset: () => {} };
  if (!canRecord()) return none;
  const step = byId('step-voice');
  const recordButton = byId('voice-record');
  const done = byId('voice-done');
  const playButton = byId('voice-play');
  const rerecordButton = byId('voice-rerecord');
  const deleteButton = byId('voice-delete');
  const status = byId('voice-status');
  let recorder = null;
  let stream = null;
  let chunks = [];
  let startedAt = 0;
  let ticker = null;
  let note = null; // {blob, url, ms}
  let audio = null;

  step.hidden = false;

  const idle = () => {
    recordButton.hidden = !!note;
    setLabel(recordButton, t('voice_record'));
    setIcon(recordButton, 'i-mic');
    done.hidden = !note;
    deleteButton.hidden = !note;
    status.classList.remove('recording');
    status.textContent = note ? t('voice_ready', { time: clock(note.ms) }) : '';
  };

  const stopAudio = () => {
    if (audio) audio.pause();
    setLabel(playButton, t('voice_play'));
    setIcon(playButton, 'i-play');
  };

  const discard = () => {
    stopAudio();
    if (note) URL.revokeObjectURL(note.url);
    note = null;
    audio = null;
  };

  const finish = () => {
    clearInterval(ticker);
    const ms = Math.min(Date.now() - startedAt, MAX_VOICE_MS);
    const type = (recorder && recorder.mimeType) || (chunks[0] && chunks[0].type) || 'audio/webm';
    stream.getTracks().forEach((track) => track.stop()); // the phone's "microphone in use" light goes off
    recorder = null;
    stream = null;
    if (chunks.length) {
      const blob = new Blob(chunks, { type: type.split(';')[0] });
      note = { blob: blob, url: URL.createObjectURL(blob), ms: ms };
    }
    chunks = [];
    idle();
    (note ? playButton : recordButton).focus();
  };

  const start = () => {
    discard();
    navigator.mediaDevices.getUserMedia({ audio: true }).then((media) => {
      stream = media;
      const type = recordingType();
      recorder = type ? new MediaRecorder(media, { mimeType: type }) : new MediaRecorder(media);
      chunks = [];
      recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
      recorder.onstop = finish;
      recorder.start(1000);
      startedAt = Date.now();
      recordButton.hidden = false;
      done.hidden = true;
      deleteButton.hidden = true;
      setLabel(recordButton, t('voice_stop'));
      setIcon(recordButton, 'i-stop');
      status.classList.add('recording');
      const show = () => {
        const ms = Date.now() - startedAt;
        status.textContent = t('voice_recording', { time: clock(ms) });
        if (ms >= MAX_VOICE_MS && recorder && recorder.state === 'recording') recorder.stop();
      };
      show();
      ticker = setInterval(show, 500);
    }, () => {
      status.textContent = t('voice_denied');
    });
  };

  recordButton.addEventListener('click', () => {
    if (recorder && recorder.state === 'recording') recorder.stop();
    else start();
  });
  rerecordButton.addEventListener('click', start);
  deleteButton.addEventListener('click', () => {
    discard();
    idle();
    recordButton.focus();
  });
  playButton.addEventListener('click', () => {
    if (!note) return;
    if (!audio) {
      audio = new Audio(note.url);
      audio.addEventListener('ended', stopAudio);
    }
    if (audio.paused) {
      audio.play().catch(stopAudio);
      setLabel(playButton, t('voice_pause'));
      setIcon(playButton, 'i-stop');
    } else {
      stopAudio();
    }
  });

  return {
    has: () => !!note,
    files: () => {
      if (!note) return [];
      const extension = /mp4/.test(note.blob.type) ? 'm4a' : /ogg/.test(note.blob.type) ? 'ogg' : 'webm';
      return [{ kind: 'voice', blob: note.blob, filename: 'voice.' + extension }];
    },
    reset: () => {
      discard();
      idle();
    },
  };
}

export function setupLocation() {
  const none = { value: () => null, reset: () => {} };
  if (!secure || !navigator.geolocation) return none;
  const step = byId('step-location');
  const addButton = byId('location-add');
  const removeButton = byId('location-remove');
  const status = byId('location-status');
  let location = null;

  step.hidden = false;
  const show = () => {
    addButton.hidden = !!location;
    removeButton.hidden = !location;
    status.textContent = location ? t('location_added', { meters: location.accuracy_m }) : '';
  };
  // Asked only on this tap, never on load: the resident decides whether the place is sent.
  addButton.addEventListener('click', () => {
    status.textContent = t('location_getting');
    navigator.geolocation.getCurrentPosition((position) => {
      const coords = position.coords;
      location = { lat: coords.latitude, lng: coords.longitude,
        accuracy_m: Math.min(100000, Math.max(1, Math.round(coords.accuracy || 0))) };
      show();
      removeButton.focus();
    }, () => {
      status.textContent = t('location_failed');
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  });
  removeButton.addEventListener('click', () => {
    location = null;
    show();
    addButton.focus();
  });
  return {
    value: () => location,
    reset: () => {
      location = null;
      show();
    },
  };
}
