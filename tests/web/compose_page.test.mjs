// Browser test of the Compose page: trains a tiny style-conditioned model (rows Chopin and Mozart)
// with `etude train` and installs it as the base model `piano`, starts `etude serve` on a free
// loopback port, and drives Debian's chromium headless through playwright-core: the drop-down lists
// the model's styles, compose, piano roll, audio, MIDI download, a blend composed by keyboard, a
// primer; the Train tab fine-tunes the base by default: train a style from uploaded files, watch
// its curve, compose with the new style.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s]`, ...a);
const skip = (why) => { console.log(`SKIPPED: ${why}`); process.exit(77); };

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  skip(`playwright-core is not installed (run \`npm ci\` in tests/web): ${e.message}`);
}
if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (Debian package chromium)`);
const { ETUDE_BIN, ETUDE_CORPUS } = process.env;
if (!ETUDE_BIN || !fs.existsSync(ETUDE_BIN)) throw new Error(`ETUDE_BIN is not an etude binary: ${ETUDE_BIN}`);
const chopinDir = ETUDE_CORPUS && path.join(ETUDE_CORPUS, 'Chopin');
const mozartDir = ETUDE_CORPUS && path.join(ETUDE_CORPUS, 'Mozart');
if (!chopinDir || !fs.existsSync(chopinDir) || !fs.existsSync(mozartDir)) {
  skip(`the corpus is missing (ETUDE_CORPUS=${ETUDE_CORPUS}; needs its Chopin and Mozart folders)`);
}
const outDir = process.env.ETUDE_TEST_OUT || path.join(os.tmpdir(), 'etude-test-output');
fs.mkdirSync(outDir, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// Runs a command to completion; rejects with its output on a non-zero exit or after `seconds`.
function run(cmd, args, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} ended with ${code ?? signal}:\n${output}`));
    });
  });
}

// Starts `etude serve` and resolves with its URL once it printed the "listening on" line.
function startServer(args) {
  const child = spawn(ETUDE_BIN, ['serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stderrText = '';
  child.stderr.on('data', (d) => { child.stderrText += d; });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`etude serve printed no "listening on" line in 30 s:\n${stdout}${child.stderrText}`)), 30000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /^etude serve: listening on (http:\/\/[^\s]+\/)$/m.exec(stdout);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`etude serve exited (${code}):\n${stdout}${child.stderrText}`)); });
  });
  return { child, url };
}

async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

// A Standard MIDI File: an MThd chunk of 6 bytes, then `tracks` MTrk chunks filling the file.
function checkMidi(bytes) {
  check(bytes.length >= 14 && bytes.toString('latin1', 0, 4) === 'MThd' && bytes.readUInt32BE(4) === 6, 'MIDI starts with an MThd header');
  const tracks = bytes.readUInt16BE(10);
  let at = 14, notes = 0;
  for (let i = 0; i < tracks; i++) {
    check(bytes.toString('latin1', at, at + 4) === 'MTrk', `track ${i} is an MTrk chunk at byte ${at}`);
    const len = bytes.readUInt32BE(at + 4);
    for (let j = at + 8; j < at + 8 + len - 2; j++) if ((bytes[j] & 0xf0) === 0x90 && bytes[j + 2] > 0 && bytes[j + 1] < 128) notes++;
    at += 8 + len;
  }
  check(at === bytes.length && tracks >= 1, `${tracks} track chunks fill the ${bytes.length}-byte file`);
  check(notes > 0, 'the MIDI file holds note-on events');
  return tracks;
}

// Pixels of a canvas that are not transparent (the piano roll draws notes on a transparent canvas).
const paintedPixels = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return n;
}, id);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etude-web-'));
const env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'cache') };  // corpus caches stay in the temp folder
let server = null, browser = null, page = null;
const problems = [];
try {
  // The smallest pieces of a folder; three small Chopin preludes are uploaded on the Train tab later.
  const smallest = (dir, n) => fs.readdirSync(dir).filter((f) => /\.midi?$/i.test(f))
    .map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(a).size - fs.statSync(b).size || a.localeCompare(b))
    .slice(0, n);
  const picks = smallest(chopinDir, 3);
  check(picks.length === 3, 'the corpus has three Chopin MIDI files');
  // A tiny conditioned base model: two style folders of two pieces each, trained as one model.
  const stylesDir = path.join(tmp, 'styles'), modelsDir = path.join(tmp, 'models');
  for (const [style, dir] of [['Chopin', chopinDir], ['Mozart', mozartDir]]) {
    fs.mkdirSync(path.join(stylesDir, style), { recursive: true });
    for (const f of smallest(dir, 2)) fs.copyFileSync(f, path.join(stylesDir, style, path.basename(f)));
  }
  const dataDir = path.join(tmp, 'data', 'Chopin');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(modelsDir);
  for (const f of picks) fs.copyFileSync(f, path.join(dataDir, path.basename(f)));
  log('training a tiny conditioned base model with etude train');
  await run(ETUDE_BIN, ['train', stylesDir, '--out', path.join(tmp, 'cli-run'), '--preset', 'small', '--epochs', '1',
    '--seq', '32', '--batch', '8', '--threads', '1'], 300);
  fs.copyFileSync(path.join(tmp, 'cli-run', 'best.safetensors'), path.join(modelsDir, 'piano.safetensors'));

  server = startServer(['--port', '0', '--models', modelsDir, '--state', path.join(tmp, 'state'),
    '--data', path.join(tmp, 'data'), '--threads', '1']);
  const url = await server.url;
  log('server at', url);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 768 } });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);

  // The drop-down lists the base model's styles, grouped under the model.
  const style = page.getByLabel('Style', { exact: true });
  await page.waitForSelector('#style optgroup[data-model="piano"] option', { state: 'attached' });
  const listed = await page.$$eval('#style optgroup[data-model="piano"] option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(listed) === '["Chopin","Mozart"]', `the drop-down lists the model's styles (${listed})`);
  log('styles of piano in the drop-down:', listed.join(', '));
  await style.selectOption({ label: 'Chopin' });
  const card = await page.textContent('#style-card');
  check(/best epoch/.test(card) && /styles of the model piano/.test(card), `the style card is the model's (${card.slice(0, 120)})`);

  // Compose with the style Chopin, in D minor, 10 s at 90 BPM.
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await page.getByLabel('Key', { exact: true }).selectOption('D minor');
  await page.locator('#seconds').fill('10');
  await page.locator('#tempo').fill('90');
  check(await page.textContent('#seconds-out') === '10 s' && await page.textContent('#tempo-out') === '90 BPM',
    'the length and tempo sliders show their values');
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith('/api/compose')),
    page.getByRole('button', { name: 'Compose', exact: true }).click(),
  ]);
  const sent = request.postDataJSON();
  check(sent.key === 'D minor' && sent.seconds === 10 && sent.tempo === 90 && sent.length === undefined,
    `the page asks for key, seconds and tempo (${JSON.stringify(sent)})`);
  await page.waitForSelector('#piece:not([hidden])');
  check(/D minor · ends with a (cadence|ringing chord)/.test(await page.textContent('#piece-facts')),
    `the piece says its key and ending (${await page.textContent('#piece-facts')})`);
  const title = await page.textContent('#piece-title');
  check(title === 'Chopin · seed 7', `the piece shows its style and seed (${title})`);
  check(await paintedPixels(page, 'roll') > 100, 'the piano roll is drawn');
  check(/Longest copied phrase: \d+ notes|no n-gram index/.test(await page.textContent('#originality')), 'the originality summary is shown');
  await page.waitForFunction(() => document.getElementById('audio').duration > 0, null, { timeout: 60000 });
  log('piece composed, audio loaded:', await page.evaluate(() => document.getElementById('audio').duration), 's');
  await page.getByRole('button', { name: 'Play' }).click();
  await page.waitForFunction(() => document.getElementById('audio').currentTime > 0.3, null, { timeout: 15000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  const cursorX = await page.evaluate(() => new DOMMatrix(getComputedStyle(document.getElementById('cursor')).transform).m41);
  check(cursorX > 30, `the play cursor moved with the audio (x = ${cursorX})`);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'MIDI' }).click()]);
  check(/^etude-.+\.mid$/.test(download.suggestedFilename()), `the MIDI download is named etude-…mid (${download.suggestedFilename()})`);
  const tracks = checkMidi(fs.readFileSync(await download.path()));
  log(`MIDI downloaded: ${download.suggestedFilename()}, ${tracks} tracks`);
  const [xml] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'MusicXML' }).click()]);
  const xmlText = fs.readFileSync(await xml.path(), 'utf8');
  check(/^etude-.+\.musicxml$/.test(xml.suggestedFilename()), `the MusicXML download is named etude-…musicxml (${xml.suggestedFilename()})`);
  check(xmlText.includes('<score-partwise') && xmlText.includes('<key><fifths>-1</fifths><mode>minor</mode></key>'),
    'the MusicXML is a score in D minor');
  await page.screenshot({ path: path.join(outDir, 'compose.png'), fullPage: true });

  // A blend, by keyboard: Mozart as the second style, the first style's share down to 60%.
  await page.getByLabel('Blend with').focus();
  await page.keyboard.press('ArrowDown');  // a closed <select> moves to its next option: Mozart
  check(await page.inputValue('#blend-with') === 'Mozart', 'the arrow key chose Mozart to blend with');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'blend-weight', 'Tab reaches the weight slider');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  const shares = await page.textContent('#blend-weight-out');
  check(shares === 'Chopin 60% + Mozart 40%', `the slider shows the shares (${shares})`);
  await page.getByLabel('Seed', { exact: true }).fill('9');
  await page.getByRole('button', { name: 'Compose', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('piece-title').textContent.endsWith('seed 9'));
  const blendTitle = await page.textContent('#piece-title');
  check(blendTitle === 'Chopin 0.60 + Mozart 0.40 · seed 9', `the blend was composed (${blendTitle})`);
  check(await paintedPixels(page, 'roll') > 100, 'the blended piece is drawn');
  log('blend composed:', blendTitle);
  await page.screenshot({ path: path.join(outDir, 'compose-blend.png'), fullPage: true });
  await page.getByLabel('Blend with').selectOption('');

  // Continue my MIDI: upload a primer, compose its continuation.
  await page.getByLabel('Primer (a MIDI file the piece continues)').setInputFiles(picks[0]);
  await page.waitForSelector('#primer-clear:not([hidden])');
  check(/\d+ notes/.test(await page.textContent('#primer-info')), 'the primer upload reports its notes');
  await page.getByLabel('Seed', { exact: true }).fill('8');
  await page.getByRole('button', { name: 'Compose', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('piece-title').textContent.endsWith('seed 8'));
  check(await page.locator('#piece-list button').count() === 3, 'the three pieces are listed');
  await page.getByRole('button', { name: 'Remove primer' }).click();

  // The Train tab fine-tunes the base model by default; train a style from three uploaded files
  // with a short budget and watch the curve grow.
  await page.getByRole('tab', { name: 'Train' }).click();
  check(!(await page.isChecked('#from-scratch')) && await page.isEnabled('#from-scratch'), 'fine-tuning is the default');
  const baseInfo = await page.textContent('#base-info');
  check(/Fine-tunes the base model piano \(2 styles\)/.test(baseInfo), `the page says what it fine-tunes (${baseInfo})`);
  check(await page.isDisabled('#preset') && await page.isDisabled('#tokenizer'), 'the base fixes preset and tokenizer');
  await page.getByLabel('Train from scratch').check();
  check(await page.isEnabled('#preset') && /from scratch/.test(await page.textContent('#base-info')), 'from scratch can be chosen');
  await page.getByLabel('Train from scratch').uncheck();
  await page.getByLabel('Style name').fill('web-chopin');
  await page.getByLabel('MIDI files', { exact: true }).setInputFiles(picks);
  await page.getByLabel('Time budget (minutes)').fill('0.5');
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForSelector('#monitor:not([hidden])');
  const started = await page.evaluate(() => fetch('/api/runs/web-chopin').then((r) => r.json()));
  check(started.from === 'piano', `the run fine-tunes piano (from: ${started.from})`);
  log('training started');
  // The curve grows: the number of epochs drawn, sampled until the run ends.
  const drawn = [];
  for (const end = Date.now() + 150000; Date.now() < end;) {
    const { points, state } = await page.evaluate(() => ({
      points: Number(document.getElementById('chart-loss').dataset.points || 0),
      state: document.getElementById('monitor-state').textContent }));
    if (drawn[drawn.length - 1] !== points) drawn.push(points);
    if (['finished', 'stopped', 'failed'].includes(state)) break;
    await page.waitForTimeout(250);
  }
  log('epochs drawn while training:', drawn.join(' → '));
  check(drawn[drawn.length - 1] >= 1, 'at least one epoch point is drawn');
  check(await page.locator('#history-table tbody tr').count() === drawn[drawn.length - 1], 'the history table has a row per epoch drawn');
  const state = await page.textContent('#monitor-state');
  log(`run ended: ${state} (${await page.textContent('#monitor-message')}), ${await page.getAttribute('#chart-loss', 'data-points')} epochs`);
  check(state !== 'failed', 'the run did not fail');
  await page.waitForSelector('#compose-run:not([hidden])');
  await page.waitForSelector(`#runs article[aria-label="Run web-chopin"] .badge.${state}`);
  check(/fine-tuned from piano/.test(await page.textContent('#runs article[aria-label="Run web-chopin"]')), 'the run says it was fine-tuned');
  await page.screenshot({ path: path.join(outDir, 'train.png'), fullPage: true });

  // The new style is in the Compose drop-down, beside the base's styles it still knows; "Compose
  // with this style" composes the run's own style.
  await page.waitForSelector('#style optgroup[data-model="web-chopin"] option', { state: 'attached' });
  const runStyles = await page.$$eval('#style optgroup[data-model="web-chopin"] option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(runStyles) === '["web-chopin","Chopin","Mozart"]', `the run's styles are listed, its own first (${runStyles})`);
  await page.getByRole('button', { name: 'Compose with this style' }).click();
  await page.waitForFunction(() => document.getElementById('piece-title').textContent.startsWith('web-chopin'));
  check(await page.inputValue('#style') === 'row:run:web-chopin:web-chopin', 'the run\'s own style is chosen');
  check(!(await page.isHidden('#panel-compose')), 'the Compose tab is shown');
  check(await paintedPixels(page, 'roll') > 100, 'the piece of the new style is drawn');
  check(await page.isHidden('#compose-error'), 'no error is shown');
  await page.screenshot({ path: path.join(outDir, 'compose-trained.png'), fullPage: true });

  // Without a base model the Train tab says so and trains from scratch.
  const bare = startServer(['--port', '0', '--models', path.join(tmp, 'no-models'), '--state', path.join(tmp, 'state2')]);
  try {
    await page.goto(await bare.url);
    await page.getByRole('tab', { name: 'Train' }).click();
    await page.waitForFunction(() => /No base model/.test(document.getElementById('base-info').textContent));
    check(await page.isChecked('#from-scratch') && await page.isDisabled('#from-scratch'), 'no base: from scratch, fixed');
    check(await page.isEnabled('#preset'), 'no base: the preset can be chosen');
  } finally {
    await stopServer(bare.child);
  }
  check(problems.length === 0, `no console or page errors:\n${problems.join('\n')}`);
  log('ok');
} catch (e) {
  console.error(e.stack || e);
  if (page) await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
  if (problems.length) console.error(problems.join('\n'));
  if (server && server.child.stderrText) console.error(`server stderr:\n${server.child.stderrText.slice(-4000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) await stopServer(server.child);
  fs.rmSync(tmp, { recursive: true, force: true });
}
