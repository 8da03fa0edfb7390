// The web page in a real browser: Playwright (npm playwright-core) driving Debian's chromium.
// Usage: node web.mjs BASE_URL SAMPLES_DIR ARTIFACT_DIR. Exits non-zero on the first failed check.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const [base, samples, artifacts] = process.argv.slice(2);
fs.mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});

async function check(name, viewport, body) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(base);
    await body(page);
    assert.deepEqual(errors, [], 'the page threw');
    console.log(`ok - ${name}`);
  } catch (e) {
    await page.screenshot({ path: path.join(artifacts, `failed-${name.replace(/\W+/g, '-')}.png`), fullPage: true });
    throw e;
  } finally {
    await page.close();
  }
}

const LABELS = ['anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness', 'surprise'];

await check('photo and caption give a verdict with bars, boxes and words', { width: 1100, height: 900 }, async (page) => {
  await page.setInputFiles('#image', path.join(samples, 'photos/group5.jpg'));
  await page.fill('#caption', 'Best night ever with my girls 😂❤️ #SoHappy');
  await page.click('#submit');
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.textContent('#verdict-label'), 'joy');
  assert.match(await page.textContent('#verdict-confidence'), /^\d+\.\d% sure$/);
  // 7 labels x 3 modalities, and the fused bars add up to 100%.
  assert.equal(await page.locator('.bar').count(), 21);
  const fused = await page.$$eval('.bar[data-modality=fused] i', (els) => els.map((e) => parseFloat(e.style.width)));
  assert.equal(fused.length, 7);
  assert.ok(Math.abs(fused.reduce((a, b) => a + b, 0) - 100) < 0.5, `fused bars sum to ${fused}`);
  assert.equal(await page.locator('.bar[data-modality=image].absent').count(), 0);
  assert.equal(await page.locator('#boxes .box').count(), 5);  // five faces in group5
  const words = await page.$$eval('#caption-words span', (els) => els.map((e) => e.textContent));
  assert.ok(words.includes('happy'), `words: ${words}`);
  await page.screenshot({ path: path.join(artifacts, 'result-desktop.png'), fullPage: true });
});

// Each label's emoji, drawn in the verdict's font on a canvas, puts coloured pixels down: without a
// colour emoji font chromium draws an empty grey box (issue 41), which has none.
await check('every label\'s emoji draws in colour', { width: 600, height: 400 }, async (page) => {
  const colourful = await page.evaluate(() => {
    const font = getComputedStyle(document.getElementById('verdict-emoji')).fontFamily;
    const out = {};
    for (const [label, glyph] of Object.entries(EMOJI)) {  // app.js's table
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 64;
      const ctx = canvas.getContext('2d');
      ctx.font = `48px ${font}`;
      ctx.textBaseline = 'top';
      ctx.fillText(glyph, 4, 4);
      const px = ctx.getImageData(0, 0, 64, 64).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4)
        if (px[i + 3] > 128 && Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 60) ++n;
      out[label] = n;
    }
    return out;
  });
  assert.deepEqual(Object.keys(colourful).sort(), LABELS);
  for (const [label, n] of Object.entries(colourful)) assert.ok(n > 100, `${label}'s emoji drew ${n} coloured pixels`);
});

await check('a caption alone says the picture abstained', { width: 1100, height: 900 }, async (page) => {
  await page.fill('#caption', 'I am so scared of tomorrow');
  await page.click('#submit');
  await page.waitForSelector('#result:not([hidden])');
  assert.ok(LABELS.includes(await page.textContent('#verdict-label')));
  assert.equal(await page.locator('.bar[data-modality=image].absent').count(), 7);
  assert.match(await page.textContent('#notes'), /no picture/);
});

await check('a broken file shows an error, not a blank page', { width: 1100, height: 900 }, async (page) => {
  await page.setInputFiles('#image', { name: 'not-a-photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('hello, I am text') });
  await page.click('#submit');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /could not read this post: not a recognised image format/);
  assert.equal(await page.isHidden('#result'), true);
  await page.screenshot({ path: path.join(artifacts, 'error.png'), fullPage: true });
});

await check('an empty post is refused in the page', { width: 1100, height: 900 }, async (page) => {
  await page.click('#submit');
  assert.match(await page.textContent('#error'), /Add a picture or a caption/);
});

await check('keyboard only, on a phone-width screen', { width: 375, height: 740 }, async (page) => {
  // Tab reaches the drop zone first; Enter opens the file chooser. The chooser itself is the
  // browser's: the test checks that Enter asks for it, then hands the file over.
  await page.evaluate(() => document.getElementById('image').addEventListener('click', (e) => {
    window.chooserAsked = true;
    e.preventDefault();
  }));
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'dropzone');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => window.chooserAsked), true, 'Enter on the drop zone did not open the chooser');
  await page.setInputFiles('#image', path.join(samples, 'face_happy.jpg'));
  await page.focus('#caption');
  await page.keyboard.type('what a lovely day');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'submit');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.locator('#boxes .box').count(), 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
  await page.screenshot({ path: path.join(artifacts, 'result-phone.png'), fullPage: true });
});

await browser.close();
