// The emopost web page: sends the picture and caption to /v1/predict and draws the answer.
// Plain browser JavaScript: the page works offline, with no framework and no CDN.
'use strict';

const LABELS = ['anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness', 'surprise'];
const EMOJI = { anger: '😠', disgust: '🤢', fear: '😨', joy: '😄', neutral: '😐', sadness: '😢', surprise: '😲' };
const $ = (id) => document.getElementById(id);
let file = null;

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function setFile(f) {
  file = f || null;
  $('boxes').replaceChildren();
  if (!file) {
    $('preview').hidden = true;
    $('clear-image').hidden = true;
    $('image').value = '';
    return;
  }
  const img = $('preview-img');
  img.onerror = () => showError(`The browser cannot show "${file.name}"; the server will say whether it can read it.`);
  img.src = URL.createObjectURL(file);
  $('preview').hidden = false;
  $('clear-image').hidden = false;
}

function pct(p) { return `${(100 * p).toFixed(1)}%`; }

function barCell(probs, label, modality) {
  const td = document.createElement('td');
  td.className = 'cell';
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.dataset.modality = modality;
  bar.dataset.label = label;
  if (!probs) {
    bar.classList.add('absent');
    bar.innerHTML = '<b>abstained</b>';
  } else {
    const fill = document.createElement('i');
    fill.style.width = pct(probs[label]);
    const text = document.createElement('b');
    text.textContent = pct(probs[label]);
    bar.append(fill, text);
    bar.setAttribute('aria-label', `${modality} ${label} ${pct(probs[label])}`);
  }
  td.append(bar);
  return td;
}

function drawBoxes(result) {
  const layer = $('boxes');
  layer.replaceChildren();
  if (!result.image) return;
  const { width, height } = result.image;
  result.faces.forEach((f, i) => {
    const d = document.createElement('div');
    d.className = 'box';
    d.style.left = `${(100 * f.box.x) / width}%`;
    d.style.top = `${(100 * f.box.y) / height}%`;
    d.style.width = `${(100 * f.box.width) / width}%`;
    d.style.height = `${(100 * f.box.height) / height}%`;
    const tag = document.createElement('span');
    tag.textContent = `${i + 1}: ${EMOJI[f.label]} ${f.label}`;
    d.append(tag);
    layer.append(d);
  });
}

function render(r) {
  $('verdict-emoji').textContent = EMOJI[r.label];
  $('verdict-label').textContent = r.label;
  $('verdict-confidence').textContent = `${pct(r.confidence)} sure`;
  $('modalities').textContent = r.modalities.length === 2
    ? 'Read from the caption and the face(s), trusting each as its calibration says.'
    : `Read from the ${r.modalities[0] === 'text' ? 'caption' : 'face(s)'} only.`;
  $('notes').replaceChildren(...r.notes.map((n) => Object.assign(document.createElement('li'), { textContent: n })));

  const body = $('bars').tBodies[0];
  body.replaceChildren();
  for (const label of LABELS) {
    const tr = document.createElement('tr');
    if (label === r.label) tr.className = 'top';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = `${EMOJI[label]} ${label}`;
    tr.append(th, barCell(r.probabilities.text, label, 'text'), barCell(r.probabilities.image, label, 'image'),
      barCell(r.probabilities.fused, label, 'fused'));
    body.append(tr);
  }

  const words = r.attribution || [];
  $('explain').hidden = words.length === 0;
  const max = Math.max(1e-6, ...words.map((w) => Math.abs(w.score)));
  $('caption-words').replaceChildren(...words.map((w) => {
    const s = document.createElement('span');
    s.textContent = w.word;
    const a = Math.min(1, Math.abs(w.score) / max);
    s.style.background = w.score >= 0 ? `rgba(255, 140, 0, ${a})` : `rgba(36, 88, 198, ${a * 0.6})`;
    s.title = `${w.score >= 0 ? 'pushed towards' : 'pulled away from'} the text verdict by ${pct(Math.abs(w.score))}`;
    return s;
  }));

  $('faces-info').hidden = r.faces.length === 0;
  $('faces').replaceChildren(...r.faces.map((f) => Object.assign(document.createElement('li'), {
    textContent: `${EMOJI[f.label]} ${f.label} (${pct(f.probabilities[f.label])}), weight ${pct(f.weight)}` +
      (f.whole_image ? ', the whole picture read as a face' : ''),
  })));
  drawBoxes(r);
  $('result').hidden = false;
}

async function submit(event) {
  event.preventDefault();
  $('error').hidden = true;
  const caption = $('caption').value;
  if (!file && caption.trim() === '') {
    showError('Add a picture or a caption first.');
    return;
  }
  const form = new FormData();
  if (file) form.append('image', file, file.name);
  form.append('text', caption);
  $('busy').hidden = false;
  $('submit').disabled = true;
  try {
    const res = await fetch('/v1/predict?explain=1', { method: 'POST', body: form });
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    if (!res.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
      throw new Error(`The server could not read this post: ${message}`);
    }
    render(body);
  } catch (e) {
    $('result').hidden = true;
    showError(e instanceof TypeError ? 'The server cannot be reached. Is emopost serve running?' : e.message);
  } finally {
    $('busy').hidden = true;
    $('submit').disabled = false;
  }
}

const zone = $('dropzone');
zone.addEventListener('click', () => $('image').click());
zone.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('image').click(); }
});
zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (e) => {
  e.preventDefault();
  zone.classList.remove('over');
  if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
});
$('image').addEventListener('change', (e) => setFile(e.target.files[0]));
$('clear-image').addEventListener('click', () => setFile(null));
$('post-form').addEventListener('submit', submit);

// A report built for these models (`serve --report DIR`) is linked from the footer.
fetch('/v1/models').then((r) => (r.ok ? r.json() : {})).then((info) => {
  if (info.report) $('report-link').hidden = false;
}).catch(() => {});
