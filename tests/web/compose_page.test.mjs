// Browser test of the Compose page: trains a tiny style with `etude train`, starts `etude serve`
// on a free loopback port, and drives Debian's chromium headless through playwright-core: compose,
// piano roll, audio, MIDI download; train a style from uploaded files, watch its curve, compose with it.
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
if (!chopinDir || !fs.existsSync(chopinDir)) skip(`the corpus is missing (ETUDE_CORPUS=${ETUDE_CORPUS}; needs its Chopin folder)`);
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
  // Three small Chopin preludes: a tiny style trained by the command line, and the uploads later.
  const picks = fs.readdirSync(chopinDir).filter((f) => /\.midi?$/i.test(f))
    .map((f) => path.join(chopinDir, f)).sort((a, b) => fs.statSync(a).size - fs.statSync(b).size || a.localeCompare(b))
    .slice(0, 3);
  check(picks.length === 3, 'the corpus has three Chopin MIDI files');
  const dataDir = path.join(tmp, 'data', 'Chopin'), modelsDir = path.join(tmp, 'models');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(modelsDir);
  for (const f of picks) fs.copyFileSync(f, path.join(dataDir, path.basename(f)));
  log('training a tiny style with etude train');
  await run(ETUDE_BIN, ['train', dataDir, '--out', path.join(tmp, 'cli-run'), '--preset', 'small', '--epochs', '1',
    '--threads', '2'], 150);
  fs.copyFileSync(path.join(tmp, 'cli-run', 'best.safetensors'), path.join(modelsDir, 'tiny-chopin.safetensors'));

  server = startServer(['--port', '0', '--models', modelsDir, '--state', path.join(tmp, 'state'),
    '--data', path.join(tmp, 'data'), '--threads', '2']);
  const url = await server.url;
  log('server at', url);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 768 } });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);

  // Compose with the tiny style.
  const style = page.getByLabel('Style', { exact: true });
  await page.waitForSelector('#style option[value="style:tiny-chopin"]', { state: 'attached' });
  await style.selectOption('style:tiny-chopin');
  check(/best epoch/.test(await page.textContent('#style-card')), 'the style card shows the model card');
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await page.getByRole('button', { name: 'Compose', exact: true }).click();
  await page.waitForSelector('#piece:not([hidden])');
  check((await page.textContent('#piece-title')).includes('seed 7'), 'the piece shows its seed');
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
  await page.screenshot({ path: path.join(outDir, 'compose.png'), fullPage: true });

  // Continue my MIDI: upload a primer, compose its continuation.
  await page.getByLabel('Primer (a MIDI file the piece continues)').setInputFiles(picks[0]);
  await page.waitForSelector('#primer-clear:not([hidden])');
  check(/\d+ notes/.test(await page.textContent('#primer-info')), 'the primer upload reports its notes');
  await page.getByLabel('Seed', { exact: true }).fill('8');
  await page.getByRole('button', { name: 'Compose', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('piece-title').textContent.endsWith('seed 8'));
  check(await page.locator('#piece-list button').count() === 2, 'both pieces are listed');
  await page.getByRole('button', { name: 'Remove primer' }).click();

  // Train a style from three uploaded files with a short budget; watch the curve grow.
  await page.getByRole('tab', { name: 'Train' }).click();
  await page.getByLabel('Style name').fill('web-chopin');
  await page.getByLabel('MIDI files', { exact: true }).setInputFiles(picks);
  await page.getByLabel('Preset').selectOption('small');
  await page.getByLabel('Time budget (minutes)').fill('0.5');
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForSelector('#monitor:not([hidden])');
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
  await page.screenshot({ path: path.join(outDir, 'train.png'), fullPage: true });

  // The new style is in the Compose drop-down: compose with it.
  await page.getByRole('tab', { name: 'Compose' }).click();
  await page.waitForSelector('#style option[value="run:web-chopin:best"]', { state: 'attached' });
  await style.selectOption('run:web-chopin:best');
  await page.getByRole('button', { name: 'Compose', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('piece-title').textContent.startsWith('web-chopin'));
  check(await paintedPixels(page, 'roll') > 100, 'the piece of the new style is drawn');
  check(await page.isHidden('#compose-error'), 'no error is shown');
  await page.screenshot({ path: path.join(outDir, 'compose-trained.png'), fullPage: true });
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
