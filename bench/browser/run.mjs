// Browser benchmark: one Chromium, one `hoist serve` (coordinator + embedded store), one file
// of SIZE_MIB picked from disk with setInputFiles, uploaded in ROUNDS interleaved rounds by
//   hoist.js  web/hoist.js (or HOIST_JS), its defaults
//   uppy5     @uppy/core + @uppy/aws-s3 5.x, `endpoint` = the coordinator (Companion routes)
//   uppy6     @uppy/core + @uppy/aws-s3 6.x, `signRequest` on the coordinator's POST /s3/sign
//   ceiling   a bare fetch() PUT loop over hoist's plan (CEILING_CONCURRENCY in flight)
// Each upload runs in a fresh tab of a page served from its own loopback origin (so the
// coordinator and the store are cross-origin, as for a web app). Measured per upload: wall time
// in the page (performance.now() around the client's call), main-thread busy time
// (Performance.getMetrics TaskDuration delta, minus the DevTools commands this script sends),
// long tasks (PerformanceObserver 'longtask' total), peak JS heap (sampled every 2 s), the
// requests the page sent (Playwright) and the store and coordinator answered (their metrics),
// CPU seconds of every Chromium process by type and of hoist serve. Every object is read back
// (GET on a presigned URL: size and MD5 against the file's), then deleted.
//
// Usage: node run.mjs WORKDIR OUTDIR  (bench/browser.sh sets everything up)

import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';
import {
  createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, '..', '..');
const MiB = 1024 * 1024;

const WORK = resolve(process.argv[2] || '/tmp/hoist-bench-browser');
const OUT = resolve((process.argv[2] !== '--summary' && process.argv[3]) || join(REPO, 'bench', 'results', 'browser'));
const HOIST_BIN = process.env.HOIST_BIN || join(REPO, 'target', 'release', 'hoist');
const HOIST_JS = resolve(process.env.HOIST_JS || join(REPO, 'web', 'hoist.js'));
// Another hoist.js (a proposed change) run as the client `hoist.js-alt`, interleaved with the rest.
const HOIST_JS_ALT = process.env.HOIST_JS_ALT ? resolve(process.env.HOIST_JS_ALT) : null;
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROUNDS = Number(process.env.ROUNDS || 3);
const SIZE_MIB = Number(process.env.SIZE_MIB || 512);
const CLIENTS = (process.env.CLIENTS || 'hoist.js,uppy5,uppy6,ceiling').split(',').map((s) => s.trim()).filter(Boolean);
const CEILING_CONCURRENCY = Number(process.env.CEILING_CONCURRENCY || 6);
const STORE_DATA = process.env.STORE_DATA || join(WORK, 'store');
const UPLOAD_TIMEOUT_MS = Number(process.env.UPLOAD_TIMEOUT_S || 1200) * 1000;
const STORE_LATENCY_MS = Number(process.env.STORE_LATENCY_MS || 0);
const TRACE = process.env.TRACE === '1'; // one CDP trace per client in round 1 (evidence, not figures)

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- the file ------------------------------------------------------------------------------

async function makeFile(path, size) {
  const sidecar = `${path}.md5`;
  if (existsSync(path) && existsSync(sidecar)) {
    const [md5, bytes] = readFileSync(sidecar, 'utf8').trim().split(' ');
    if (Number(bytes) === size) return md5;
  }
  log(`writing ${size / MiB} MiB of random bytes to ${path}`);
  const hash = createHash('md5');
  const out = createWriteStream(path);
  for (let done = 0; done < size; done += 4 * MiB) {
    const buf = randomBytes(Math.min(4 * MiB, size - done));
    hash.update(buf);
    if (!out.write(buf)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const md5 = hash.digest('hex');
  writeFileSync(sidecar, `${md5} ${size}\n`);
  return md5;
}

// ---- the site the pages come from ------------------------------------------------------------

async function bundleUppy(generation) {
  const alias = generation === 5 ? { '@uppy/core': 'uppy-core-5', '@uppy/aws-s3': 'uppy-aws-s3-5' } : {};
  const out = await build({
    entryPoints: [join(here, 'pages', 'uppy-client.mjs')],
    absWorkingDir: here, // aliases resolve from here, whatever the caller's directory
    bundle: true,
    minify: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    alias,
    define: { UPPY_GENERATION: String(generation) },
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

function html(script, module) {
  return `<!doctype html><meta charset="utf-8"><title>bench</title>
<input type="file" id="file"><progress id="bar" max="1" value="0"></progress>
<script ${module ? 'type="module" ' : ''}src="${script}"></script>`;
}

async function startSite() {
  const js = 'text/javascript; charset=utf-8';
  const files = {
    '/hoist.js.html': { type: 'text/html', body: html('/hoist-client.mjs', true) },
    '/hoist-client.mjs': { type: js, body: readFileSync(join(here, 'pages', 'hoist-client.mjs')) },
    '/hoist.js': { type: js, body: readFileSync(HOIST_JS) },
    '/uppy5.html': { type: 'text/html', body: html('/uppy5.js', false) },
    '/uppy5.js': { type: js, body: await bundleUppy(5) },
    '/uppy6.html': { type: 'text/html', body: html('/uppy6.js', false) },
    '/uppy6.js': { type: js, body: await bundleUppy(6) },
    '/ceiling.html': { type: 'text/html', body: html('/ceiling-client.mjs', true) },
    '/ceiling-client.mjs': { type: js, body: readFileSync(join(here, 'pages', 'ceiling-client.mjs')) },
  };
  if (HOIST_JS_ALT) {
    files['/hoist.js-alt.html'] = { type: 'text/html', body: html('/alt/hoist-client.mjs', true) };
    files['/alt/hoist-client.mjs'] = files['/hoist-client.mjs'];
    files['/alt/hoist.js'] = { type: js, body: readFileSync(HOIST_JS_ALT) };
  }
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const file = files[path];
    if (!file) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${server.address().port}`, server };
}

// ---- hoist serve ---------------------------------------------------------------------------

/** Spawns `hoist ARGS` and waits until it printed every address in `want` (name -> pattern). */
async function spawnHoist(args, want, env = {}) {
  const proc = spawn(HOIST_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { err = (err + d).slice(-50_000); });
  proc.stdout.setEncoding('utf8');
  const addresses = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`hoist ${args[0]} not ready in 60 s:\n${out}\n${err}`)), 60_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const found = Object.entries(want).map(([name, re]) => [name, re.exec(out)?.[1]?.replace(/\/$/, '')]);
      if (found.every(([, v]) => v)) { clearTimeout(timer); ok(Object.fromEntries(found)); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`hoist ${args[0]} exited ${code}:\n${out}\n${err}`)); });
  });
  return { addresses, proc, stderr: () => err };
}

async function startHoist(siteOrigin) {
  rmSync(STORE_DATA, { recursive: true, force: true });
  mkdirSync(STORE_DATA, { recursive: true });
  // --rate-limit 0: Uppy signs every part in its own request; the bench measures clients, not
  // the coordinator's per-caller limit (50/s, burst 200 by default).
  const common = ['--cors-origin', siteOrigin, '--rate-limit', '0', '--log', 'warn',
    ...(process.env.SERVE_ARGS || '').split(/\s+/).filter(Boolean)];
  if (!STORE_LATENCY_MS) {
    const { addresses, proc, stderr } = await spawnHoist(
      ['serve', '--listen', '127.0.0.1:0', '--store-listen', '127.0.0.1:0', '--data', STORE_DATA, ...common],
      { coordinator: /hoist coordinator listening on (https?:\/\/\S+)/, store: /hoist store listening on (https?:\/\/\S+)/ });
    const cred = JSON.parse(readFileSync(join(STORE_DATA, 'credentials.json'), 'utf8'));
    return { ...addresses, proc, accessKey: cred.access_key_id, secretKey: cred.secret_access_key, bucket: 'uploads', stderr };
  }
  // STORE_LATENCY_MS: the store runs alone and answers every request (preflights included) that
  // many ms late, as a store across a long link does; hoist serve fronts it with --s3-endpoint.
  const accessKey = 'AKIDHOISTBENCHBROWSER';
  const secretKey = randomBytes(24).toString('hex');
  const store = await spawnHoist(
    ['store', '--listen', '127.0.0.1:0', '--data', join(STORE_DATA, 'store'), '--bucket', 'uploads',
      '--access-key', accessKey, '--secret-key', secretKey, '--fault-latency-ms', String(STORE_LATENCY_MS), '--log', 'warn'],
    { store: /hoist store listening on (https?:\/\/\S+)/ });
  // The store's CORS rules for the page's origin, set as a user would.
  execFileSync(HOIST_BIN, ['doctor', '--endpoint', store.addresses.store, '--bucket', 'uploads', '--access-key', accessKey,
    '--secret-key', secretKey, '--origin', siteOrigin, '--fix'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const serve = await spawnHoist(
    ['serve', '--listen', '127.0.0.1:0', '--data', join(STORE_DATA, 'coordinator'), '--s3-endpoint', store.addresses.store,
      '--bucket', 'uploads', '--anonymous', 'true', ...common],
    { coordinator: /hoist coordinator listening on (https?:\/\/\S+)/ },
    { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1' });
  return {
    coordinator: serve.addresses.coordinator, store: store.addresses.store, proc: serve.proc, storeProc: store.proc,
    accessKey, secretKey, bucket: 'uploads', stderr: () => `${serve.stderr()}\n${store.stderr()}`,
  };
}

/** CPU seconds of hoist serve so far, and of the store it fronts when that runs alone. */
function hoistCpu(hoist) {
  return procStat(hoist.proc.pid).cpu + (hoist.storeProc ? procStat(hoist.storeProc.pid).cpu : 0);
}

function presign(hoist, method, key) {
  return execFileSync(HOIST_BIN, ['presign', '--method', method, '--endpoint', hoist.store, '--bucket', hoist.bucket,
    '--key', key, '--access-key', hoist.accessKey, '--secret-key', hoist.secretKey, '--expires', '600'],
  { encoding: 'utf8' }).trim();
}

/** GET the object back: its size and MD5, and its ETag. */
async function readBack(hoist, key) {
  const res = await fetch(presign(hoist, 'GET', key));
  if (!res.ok) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of res.body) { hash.update(chunk); size += chunk.length; }
  return { size, md5: hash.digest('hex'), etag: res.headers.get('etag') };
}

async function deleteObject(hoist, key) {
  const res = await fetch(presign(hoist, 'DELETE', key), { method: 'DELETE' });
  if (!res.ok && res.status !== 204) throw new Error(`DELETE ${key}: ${res.status}`);
}

/** Prometheus counters summed by one label: {labelValue: n}. */
async function counters(url, headers, metric, label) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = new RegExp(`${label}="([^"]*)"`).exec(line);
    const v = Number(line.trim().split(/\s+/).pop());
    const k = m ? m[1] : '?';
    out[k] = (out[k] || 0) + v;
  }
  return out;
}

const storeOps = (hoist) => counters(`${hoist.store}/_hoist/metrics`, { Authorization: `Bearer ${hoist.secretKey}` },
  'hoist_store_requests_total', 'operation');
const coordinatorRoutes = (hoist) => counters(`${hoist.coordinator}/metrics`, {}, 'hoist_requests_total', 'route');
const coordinatorStoreCalls = (hoist) => counters(`${hoist.coordinator}/metrics`, {}, 'hoist_store_requests_total', 'operation');

function diff(after, before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] || 0)) out[k] = v - (before[k] || 0);
  return out;
}

// ---- CPU of processes ----------------------------------------------------------------------

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) / TICKS };
  } catch {
    return null;
  }
}

function allProcs() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st) out.set(Number(name), st);
  }
  return out;
}

function kindOf(pid) {
  let cmd = '';
  try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return 'gone'; }
  const type = /--type=(\S+)/.exec(cmd)?.[1];
  if (!type) return 'browser';
  if (type === 'utility') {
    const sub = /--utility-sub-type=(\S+)/.exec(cmd)?.[1] || '';
    if (/network/i.test(sub)) return 'network';
    if (/storage/i.test(sub)) return 'storage';
    return 'utility';
  }
  if (type === 'gpu-process') return 'gpu';
  return type; // renderer, zygote, …
}

/** CPU seconds of every process under `root` (Chromium's browser process), by kind. */
function chromiumCpu(root) {
  const procs = allProcs();
  const children = new Map();
  for (const [pid, st] of procs) {
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(pid);
  }
  const byPid = {};
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    const st = procs.get(pid);
    if (!st) continue;
    byPid[pid] = { kind: kindOf(pid), cpu: st.cpu };
    stack.push(...(children.get(pid) || []));
  }
  return byPid;
}

function cpuDelta(after, before) {
  const out = {};
  for (const [pid, a] of Object.entries(after)) {
    const d = a.cpu - (before[pid]?.cpu || 0);
    if (d > 0) out[a.kind] = (out[a.kind] || 0) + d;
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k] * 100) / 100;
  return out;
}

function findBrowserPid(profile) {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd = '';
    try { cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.includes(profile) && !cmd.includes('--type=')) return Number(name);
  }
  return null;
}

// ---- one upload ----------------------------------------------------------------------------

const INSTRUMENT = `
window.__bench = { longTasks: [] };
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
} catch (e) { window.__bench.noLongTasks = String(e); }
`;

function metricsOf(list) {
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

/** A ceiling client's options (`ceiling`, or `ceiling-{fetch|xhr}[buf]N`); null for another client. */
function ceilingOptions(client) {
  if (client === 'ceiling') return { api: 'fetch', buffer: false, concurrency: CEILING_CONCURRENCY };
  const m = /^ceiling-(fetch|xhr)(buf)?(\d+)$/.exec(client);
  return m ? { api: m[1], buffer: !!m[2], concurrency: Number(m[3]) } : null;
}

/** The page a client runs on and the options it is given: the rows, then exploratory variants. */
function clientSpec(client) {
  if (['hoist.js', 'hoist.js-alt', 'uppy5', 'uppy6'].includes(client)) return { page: client, options: {} };
  const ceiling = ceilingOptions(client);
  if (ceiling) return { page: 'ceiling', options: ceiling };
  const m = /^hoist\.js-c(\d+)$/.exec(client);
  if (m) return { page: 'hoist.js', options: { concurrency: Number(m[1]) } };
  throw new Error(`unknown client ${client}`);
}

async function runOne({ context, site, hoist, client, round, file, md5, size, browserPid }) {
  const spec = clientSpec(client);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} ${m.location()?.url || ''}`); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${r.url().slice(0, 120)}`); });
  await page.goto(`${site.origin}/${spec.page}.html`);
  await page.waitForFunction(() => typeof window.benchUpload === 'function');
  await page.setInputFiles('#file', file);
  const info = await page.evaluate(() => window.clientInfo);

  const requests = { coordinator: 0, store: 0, other: 0 };
  let counting = false;
  page.on('request', (r) => {
    if (!counting) return;
    const origin = new URL(r.url()).origin;
    if (origin === hoist.coordinator) requests.coordinator += 1;
    else if (origin === hoist.store) requests.store += 1;
    else requests.other += 1;
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  let tracing = null;
  if (TRACE && round === 1) {
    tracing = { events: [] };
    cdp.on('Tracing.dataCollected', (e) => tracing.events.push(...e.value));
    await cdp.send('Tracing.start', {
      traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'toplevel'] },
      transferMode: 'ReportEvents',
    });
  }
  const [ops0, routes0, calls0] = await Promise.all([storeOps(hoist), coordinatorRoutes(hoist), coordinatorStoreCalls(hoist)]);
  const load0 = loadavg();
  const cpu0 = chromiumCpu(browserPid);
  const hoistCpu0 = hoistCpu(hoist);
  const m0 = metricsOf((await cdp.send('Performance.getMetrics')).metrics);
  let peakHeap = m0.JSHeapUsedSize;
  let samples = 0;
  const sampler = setInterval(async () => {
    try {
      const m = metricsOf((await cdp.send('Performance.getMetrics')).metrics);
      peakHeap = Math.max(peakHeap, m.JSHeapUsedSize);
      samples += 1;
    } catch { /* page closing */ }
  }, 2000);

  counting = true;
  const nodeT0 = performance.now();
  let result;
  try {
    result = await Promise.race([
      page.evaluate((args) => window.benchUpload(args), { coordinator: hoist.coordinator, options: spec.options }),
      new Promise((_, fail) => setTimeout(() => fail(new Error(`${client}: no result in ${UPLOAD_TIMEOUT_MS / 1000} s`)), UPLOAD_TIMEOUT_MS)),
    ]);
  } finally {
    clearInterval(sampler);
  }
  const nodeSeconds = (performance.now() - nodeT0) / 1000;
  counting = false;
  const m1 = metricsOf((await cdp.send('Performance.getMetrics')).metrics);
  peakHeap = Math.max(peakHeap, m1.JSHeapUsedSize);
  const cpu1 = chromiumCpu(browserPid);
  const hoistCpu1 = hoistCpu(hoist);
  const load1 = loadavg();
  const [ops1, routes1, calls1] = await Promise.all([storeOps(hoist), coordinatorRoutes(hoist), coordinatorStoreCalls(hoist)]);
  const longTasks = await page.evaluate(({ t0, t1 }) => {
    const b = window.__bench;
    const inside = b.longTasks.filter(([s]) => s >= t0 && s <= t1);
    return { ms: inside.reduce((a, [, d]) => a + d, 0), count: inside.length, unsupported: b.noLongTasks || null };
  }, result);
  if (tracing) {
    const done = new Promise((ok) => cdp.once('Tracing.tracingComplete', ok));
    await cdp.send('Tracing.end');
    await done;
    const path = join(WORK, `trace-${client}.json`);
    writeFileSync(path, JSON.stringify({ traceEvents: tracing.events }));
    tracing.summary = summarizeTrace(tracing.events, result);
    tracing.path = path;
  }
  await cdp.detach().catch(() => {});
  await page.close();

  const d = (name) => (m1[name] ?? 0) - (m0[name] ?? 0);
  const seconds = (result.t1 - result.t0) / 1000;
  const row = {
    round,
    client,
    seconds: round3(seconds),
    mib_per_s: round3(size / MiB / seconds),
    // The renderer's main thread: every task it ran, less the Performance.getMetrics calls
    // made by this script (DevToolsCommandDuration), which the page did not ask for.
    main_thread_busy_ms: Math.round((d('TaskDuration') - d('DevToolsCommandDuration')) * 1000),
    long_tasks_ms: Math.round(longTasks.ms),
    requests: requests.coordinator + requests.store + requests.other,
  };
  const detail = {
    ...row,
    node_seconds: round3(nodeSeconds),
    script_ms: Math.round(d('ScriptDuration') * 1000),
    task_ms: Math.round(d('TaskDuration') * 1000),
    devtools_ms: Math.round(d('DevToolsCommandDuration') * 1000),
    main_thread_cpu_ms: Math.round(d('ThreadTime') * 1000),
    renderer_cpu_ms: Math.round(d('ProcessTime') * 1000),
    layout_ms: Math.round(d('LayoutDuration') * 1000),
    style_ms: Math.round(d('RecalcStyleDuration') * 1000),
    long_task_count: longTasks.count,
    peak_js_heap_mib: round3(peakHeap / MiB),
    heap_samples: samples,
    page_requests: requests,
    store_requests: diff(ops1, ops0),
    coordinator_requests: diff(routes1, routes0),
    coordinator_calls_to_store: diff(calls1, calls0),
    chromium_cpu_s: cpuDelta(cpu1, cpu0),
    hoist_serve_cpu_s: round3(hoistCpu1 - hoistCpu0),
    load_before: load0.map((x) => round3(x)),
    load_after: load1.map((x) => round3(x)),
    client_info: info,
    page_errors: errors,
    trace: tracing ? { path: tracing.path, ...tracing.summary } : undefined,
  };

  // A bench that does not check what it stored is worthless: read it back, byte for byte.
  let key = result.key;
  if (!key && result.location) key = decodeURIComponent(new URL(result.location).pathname.replace(/^\/[^/]+\//, ''));
  if (!key) throw new Error(`${client}: no key in the result ${JSON.stringify(result)}`);
  const back = await readBack(hoist, key);
  detail.key = key;
  detail.stored_etag = back.etag;
  detail.verified = back.size === size && back.md5 === md5;
  if (!detail.verified) throw new Error(`${client} round ${round}: stored ${back.size} bytes MD5 ${back.md5}, the file has ${size} bytes MD5 ${md5}`);
  await deleteObject(hoist, key);
  return { row, detail };
}

function round3(x) {
  return Math.round(x * 1000) / 1000;
}

/** Main-thread time by top-level event name, from a CDP trace: where the busy time went. */
function summarizeTrace(events, result) {
  // Every renderer's main thread is in the trace; the page's is the one that worked most.
  const mains = events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!mains.length) return { note: 'no renderer main thread in the trace' };
  const busy = (t) => events.filter((e) => e.pid === t.pid && e.tid === t.tid && e.ph === 'X' && e.dur).reduce((a, e) => a + e.dur, 0);
  const main = mains.map((t) => [t, busy(t)]).sort((a, b) => b[1] - a[1])[0][0];
  const onMain = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur);
  const byName = {};
  for (const e of onMain) {
    if (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') continue;
    byName[e.name] = (byName[e.name] || 0) + e.dur / 1000;
  }
  const tasks = onMain.filter((e) => e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask');
  const top = Object.entries(byName).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, ms]) => [n, Math.round(ms)]);
  return { tasks: tasks.length, task_ms: Math.round(tasks.reduce((a, e) => a + e.dur / 1000, 0)), top_events_ms: top };
}

// ---- summary -------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const TARGETS = { uppy5: 1.5, uppy6: 2 };

function summarize(rows, details, versions, meta) {
  const by = (c) => rows.filter((r) => r.client === c);
  const stat = (c, f) => {
    const xs = by(c).map((r) => r[f]);
    return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  };
  const clients = CLIENTS.filter((c) => by(c).length);
  const tput = Object.fromEntries(clients.map((c) => [c, stat(c, 'mib_per_s')]));
  const busy = Object.fromEntries(clients.map((c) => [c, stat(c, 'main_thread_busy_ms')]));
  const label = {
    'hoist.js': 'hoist.js',
    'hoist.js-alt': 'hoist.js, proposed change',
    uppy5: 'Uppy 5 (endpoint)',
    uppy6: 'Uppy 6 (signRequest)',
    ceiling: `ceiling: fetch() PUT loop, ${CEILING_CONCURRENCY} in flight`,
  };
  for (const c of clients) {
    const o = c === 'ceiling' ? null : ceilingOptions(c);
    if (o) label[c] = `ceiling: ${o.api === 'xhr' ? 'XHR' : 'fetch()'} PUT loop${o.buffer ? ' of ArrayBuffers' : ''}, ${o.concurrency} in flight`;
  }
  const h = tput['hoist.js'];
  const rowsOut = clients.map((c) => {
    const t = tput[c];
    const ratio = h ? h.median / t.median : null;
    const target = TARGETS[c];
    const met = target ? (ratio >= target && busy['hoist.js'].median < busy[c].median ? 'yes' : 'no') : '';
    return [
      label[c] || c,
      `${t.median.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)})`,
      `${Math.round(busy[c].median)} (${Math.round(busy[c].min)}–${Math.round(busy[c].max)})`,
      ratio === null ? '' : `${ratio.toFixed(2)}×`,
      target ? `≥ ${target}× and less busy` : c === 'ceiling' ? 'what the browser allows' : '',
      met,
    ];
  });
  const short = (c) => {
    const o = ceilingOptions(c);
    if (o) return `ceiling ${o.api === 'xhr' ? 'XHR' : 'fetch'}${o.buffer ? ' (ArrayBuffer)' : ''}×${o.concurrency}`;
    return { 'hoist.js-alt': 'hoist.js (proposed)', uppy5: 'Uppy 5', uppy6: 'Uppy 6' }[c] || c;
  };
  const bars = (s) => clients.map((c) => ({ label: short(c), value: round3(s[c].median), low: s[c].min, high: s[c].max }));
  const notes = [
    `${meta.rounds} interleaved rounds, order rotating; ${SIZE_MIB} MiB of random bytes picked from disk (setInputFiles); each upload read back (GET: size and MD5) before it counted.`,
    `Load average (1 min) around the uploads: ${meta.loadMin.toFixed(2)}–${meta.loadMax.toFixed(2)}; CI and other benchmarks may share the 2 cores.`,
    `hoist serve with --rate-limit 0${process.env.SERVE_ARGS ? ` ${process.env.SERVE_ARGS}` : ''}${STORE_LATENCY_MS ? `, in front of a store of its own (hoist store) answering every request ${STORE_LATENCY_MS} ms late (--fault-latency-ms)` : ''}; store data on ${meta.storeData}.`,
    'main-thread busy ms: Performance.getMetrics TaskDuration delta of the renderer, less the DevTools commands the harness sent; long tasks are in results.csv.',
    ...clients.filter((c) => c.startsWith('ceiling')).map((c) => `${label[c]} ÷ Uppy 5 = ${tput.uppy5 ? (tput[c].median / tput.uppy5.median).toFixed(2) : '?'}×, ÷ Uppy 6 = ${tput.uppy6 ? (tput[c].median / tput.uppy6.median).toFixed(2) : '?'}× (medians): what any client could gain over them here.`),
    ...clients.map((c) => {
      const ds = details.filter((d) => d.client === c);
      const m = (f) => median(ds.map(f));
      const cpu = (d, k) => d.chromium_cpu_s[k] || 0;
      const st = (d) => Object.values(d.store_requests).reduce((a, b) => a + b, 0) - (d.store_requests.Admin || 0);
      const co = (d) => Object.entries(d.coordinator_requests).filter(([r]) => r !== '/metrics').reduce((a, [, n]) => a + n, 0);
      return `${label[c] || c}: CPU s per upload (medians) Chromium browser process ${m((d) => cpu(d, 'browser')).toFixed(2)}, network service ${m((d) => cpu(d, 'network')).toFixed(2)}, renderer ${m((d) => cpu(d, 'renderer')).toFixed(2)}, hoist serve ${m((d) => d.hoist_serve_cpu_s).toFixed(2)}; ` +
        `requests answered: store ${m(st)} (${m((d) => d.store_requests.Preflight || 0)} CORS preflights, ${m((d) => d.store_requests.UploadPart || 0)} parts), coordinator ${m(co)}; script ${m((d) => d.script_ms)} ms; peak JS heap ${m((d) => d.peak_js_heap_mib).toFixed(1)} MiB.`;
    }),
  ];
  return {
    name: 'browser',
    title: STORE_LATENCY_MS
      ? `Browser: hoist.js against Uppy, every store request answered ${STORE_LATENCY_MS} ms late`
      : 'Browser: hoist.js against Uppy',
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: STORE_LATENCY_MS ? 'bench/run.sh browser-latency' : 'bench/run.sh browser',
    versions,
    notes,
    table: {
      columns: ['client', 'MiB/s median (min–max)', 'main-thread busy ms', 'ratio hoist.js ÷ client', 'target', 'met'],
      rows: rowsOut,
    },
    plots: [
      { file: 'throughput.svg', kind: 'bar', title: `${SIZE_MIB} MiB from disk, MiB/s`, unit: 'MiB/s', bars: bars(tput) },
      { file: 'busy.svg', kind: 'bar', title: 'main-thread busy time', unit: 'ms', bars: bars(busy) },
    ],
  };
}

// ---- main ----------------------------------------------------------------------------------

/** `node run.mjs --summary OUTDIR`: summary.json again from details.json (versions kept). */
function resummarize(out) {
  const details = JSON.parse(readFileSync(join(out, 'details.json'), 'utf8'));
  const old = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const seen = [...new Set(details.map((d) => d.client))];
  CLIENTS.splice(0, CLIENTS.length, ...seen);
  const rows = details.map((d) => ({ round: d.round, client: d.client, seconds: d.seconds, mib_per_s: d.mib_per_s, main_thread_busy_ms: d.main_thread_busy_ms, long_tasks_ms: d.long_tasks_ms, requests: d.requests }));
  const loads = details.flatMap((d) => [d.load_before[0], d.load_after[0]]);
  const summary = summarize(rows, details, old.versions, {
    rounds: Math.max(...details.map((d) => d.round)), loadMin: Math.min(...loads), loadMax: Math.max(...loads),
    storeData: /store data on ([^.]+[^ ]*?)\.?$/.exec(old.notes?.[2] || '')?.[1] || 'tmpfs',
  });
  summary.date = old.date;
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

async function main() {
  if (process.argv[2] === '--summary') return resummarize(resolve(process.argv[3] || OUT));
  mkdirSync(WORK, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const size = SIZE_MIB * MiB;
  const file = join(WORK, `data-${SIZE_MIB}MiB.bin`);
  const md5 = await makeFile(file, size);
  execFileSync('sh', ['-c', `cat '${file}' > /dev/null`]); // in the page cache for every client
  const site = await startSite();
  const hoist = await startHoist(site.origin);
  log(`hoist serve: coordinator ${hoist.coordinator}, store ${hoist.store}; pages at ${site.origin}`);
  const profile = join(WORK, `profile-${process.pid}`);
  rmSync(profile, { recursive: true, force: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await context.addInitScript(INSTRUMENT);
  const browserPid = findBrowserPid(profile);
  const chromiumVersion = context.browser()?.version() || execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  const pkg = (p) => JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version;
  const git = (path, args) => { try { return execFileSync('git', ['-C', dirname(path), ...args], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } };
  const versions = {
    hoist: execFileSync(HOIST_BIN, ['--version'], { encoding: 'utf8' }).trim(),
    'hoist.js': `${HOIST_JS.replace(`${REPO}/`, '')} at ${git(HOIST_JS, ['rev-parse', '--short', 'HEAD'])}${git(HOIST_JS, ['status', '--porcelain', '--', HOIST_JS]) ? ' (modified)' : ''}`,
    ...(HOIST_JS_ALT ? { 'hoist.js-alt': `${HOIST_JS_ALT} at ${git(HOIST_JS_ALT, ['rev-parse', '--short', 'HEAD'])}${git(HOIST_JS_ALT, ['status', '--porcelain', '--', HOIST_JS_ALT]) ? ' (modified)' : ''}` } : {}),
    chromium: chromiumVersion,
    '@uppy/core 5': pkg('uppy-core-5'),
    '@uppy/aws-s3 5': pkg('uppy-aws-s3-5'),
    '@uppy/core 6': pkg('@uppy/core'),
    '@uppy/aws-s3 6': pkg('@uppy/aws-s3'),
    'playwright-core': pkg('playwright-core'),
    esbuild: pkg('esbuild'),
    node: process.version,
  };
  log('versions', JSON.stringify(versions));

  const rows = [];
  const details = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = CLIENTS.map((_, i) => CLIENTS[(i + round - 1) % CLIENTS.length]);
      for (const client of order) {
        log(`round ${round}: ${client}…`);
        const { row, detail } = await runOne({ context, site, hoist, client, round, file, md5, size, browserPid });
        rows.push(row);
        details.push(detail);
        log(`round ${round}: ${client}: ${row.seconds} s, ${row.mib_per_s} MiB/s, busy ${row.main_thread_busy_ms} ms, long tasks ${row.long_tasks_ms} ms, ${row.requests} requests; ` +
          `chromium CPU ${JSON.stringify(detail.chromium_cpu_s)}, hoist serve ${detail.hoist_serve_cpu_s} s; heap ${detail.peak_js_heap_mib} MiB; load ${detail.load_before[0]}; verified`);
        writeOut(rows, details);
      }
    }
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    hoist.proc.kill('SIGTERM');
    hoist.storeProc?.kill('SIGTERM');
    site.server.closeAllConnections();
    site.server.close();
  }
  const loads = details.flatMap((d) => [d.load_before[0], d.load_after[0]]);
  const summary = summarize(rows, details, versions, {
    rounds: ROUNDS, loadMin: Math.min(...loads), loadMax: Math.max(...loads), storeData: STORE_DATA,
  });
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  for (const r of summary.table.rows) log(r.join(' | '));
  rmSync(STORE_DATA, { recursive: true, force: true });
}

function writeOut(rows, details) {
  const cols = ['round', 'client', 'seconds', 'mib_per_s', 'main_thread_busy_ms', 'long_tasks_ms', 'requests'];
  writeFileSync(join(OUT, 'results.csv'), `${cols.join(',')}\n${rows.map((r) => cols.map((c) => r[c]).join(',')).join('\n')}\n`);
  writeFileSync(join(OUT, 'details.json'), `${JSON.stringify(details, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
