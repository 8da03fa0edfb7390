// Draws a report written by `emopost report` in headless Chromium (npm playwright-core, Debian's
// chromium) and saves each chart as PNG and SVG beside it: OUT/png/ID.png, OUT/svg/ID.svg. It also
// checks the page: every chart drawn, every thumbnail decoded, no console error, no request beyond
// the file itself.
// Usage: node scripts/render-report.mjs OUT_DIR   (exit 1 when a check fails; OUT/render.json says why)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const out = path.resolve(process.argv[2] || 'report');
const page_url = pathToFileURL(path.join(out, 'index.html')).href;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const errors = [], requests = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(e.message));
await page.route('**/*', (route) => {
  const url = route.request().url();
  if (url === page_url) return route.continue();
  requests.push(url);
  return route.abort();
});
await page.goto(page_url);
await page.evaluate(() => window.emopostRendered.then(() => true, (e) => { console.error(String(e)); return false; }));
fs.mkdirSync(path.join(out, 'png'), { recursive: true });
fs.mkdirSync(path.join(out, 'svg'), { recursive: true });
const charts = [];
for (const div of await page.$$('div.chart')) {
  const id = (await div.getAttribute('id')).replace(/^chart-/, '');
  const svg = await div.$eval('svg', (s) => s.outerHTML).catch(() => null);
  const marks = await div.$$eval('svg .mark-rect path, svg .mark-symbol path, svg .mark-line path, svg .mark-rule line, svg .mark-text text, svg .mark-tick rect, svg text.cloud-word', (m) => m.length);
  if (svg) fs.writeFileSync(path.join(out, 'svg', `${id}.svg`), '<?xml version="1.0" encoding="utf-8"?>\n' + svg);
  await div.screenshot({ path: path.join(out, 'png', `${id}.png`) });
  charts.push({ id, svg: Boolean(svg), marks });
}
// The galleries' thumbnails are inline images: each must decode.
const thumbnails = await page.$$eval('img.thumb', (imgs) => imgs.map((i) => i.complete && i.naturalWidth > 0));
await browser.close();
const failed = charts.filter((c) => !c.svg || c.marks === 0).map((c) => c.id);
const broken = thumbnails.filter((ok) => !ok).length;
const result = { charts, thumbnails: { shown: thumbnails.length - broken, broken }, console_errors: errors, network_requests: requests, failed };
fs.writeFileSync(path.join(out, 'render.json'), JSON.stringify(result, null, 2));
console.log(`${charts.length} charts drawn to ${out}/png and ${out}/svg; ${errors.length} console errors; ` +
            `${requests.length} network requests; ${failed.length} empty; ${thumbnails.length - broken} thumbnails shown, ${broken} broken`);
process.exit(errors.length || requests.length || failed.length || broken || !charts.length ? 1 : 0);
