// Shared harness for the browser tests: the real `hoist serve` on port 0, Debian's Chromium
// through playwright-core, test files with known MD5s, and an independent S3 client
// (@aws-sdk/client-s3) with the embedded store's credentials.

import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

import { chromium } from 'playwright-core';
import {
  S3Client,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketCorsCommand,
  GetBucketCorsCommand,
} from '@aws-sdk/client-s3';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const ARTIFACTS = join(REPO, 'e2e', 'artifacts', 'browser');
export const HOIST_BIN = process.env.HOIST_BIN || join(REPO, 'target', 'debug', 'hoist');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const MiB = 1024 * 1024;

/** `hoist serve` arguments that make part URLs live `secs` seconds. */
export const PART_URL_TTL_ARGS = (secs) => ['--part-url-ttl', String(secs)];

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `hoist-e2e-${prefix}-`));
}

/**
 * Starts `hoist serve` with coordinator and embedded store on port 0 and waits for both
 * addresses on stdout. `extraArgs` go after the standard ones.
 */
export async function startHoist({ extraArgs = [], env = {} } = {}) {
  const data = tempDir('data');
  const args = ['serve', '--listen', '127.0.0.1:0', '--store-listen', '127.0.0.1:0', '--data', data, ...extraArgs];
  const proc = spawn(HOIST_BIN, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`hoist serve did not print its addresses in 60 s.\nstdout:\n${out}\nstderr:\n${err}`)), 60_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const coordinator = /hoist coordinator listening on (https?:\/\/[^\s]+)/.exec(out);
      const store = /hoist store listening on (https?:\/\/[^\s]+)/.exec(out);
      if (coordinator && store) {
        clearTimeout(timer);
        resolveReady({ coordinator: coordinator[1].replace(/\/$/, ''), store: store[1].replace(/\/$/, '') });
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`hoist serve exited (${code ?? signal}) before it was ready.\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });
  const addresses = await ready;
  const credentials = findCredentials(data, out);
  const server = {
    ...addresses,
    data,
    proc,
    credentials,
    bucket: 'uploads',
    logs: () => `stdout:\n${out}\nstderr:\n${err}`,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await once(proc, 'exit').catch(() => {});
        clearTimeout(timer);
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
  server.s3 = s3Client(server);
  return server;
}

/** The store's credentials: the JSON file the store keeps in its data directory. */
function findCredentials(dir, stdout) {
  if (process.env.HOIST_TEST_ACCESS_KEY) {
    return { accessKeyId: process.env.HOIST_TEST_ACCESS_KEY, secretAccessKey: process.env.HOIST_TEST_SECRET_KEY };
  }
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop();
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) stack.push(p);
      else if (name === 'credentials.json') {
        const c = JSON.parse(readFileSync(p, 'utf8'));
        return { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key };
      }
    }
  }
  throw new Error(`no credentials.json under ${dir}; stdout was:\n${stdout}`);
}

export function s3Client(server) {
  return new S3Client({
    endpoint: server.store,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: server.credentials,
    // The store is the thing under test; the SDK's own retries would hide its answers.
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Lets `origin` PUT to the bucket; `exposeEtag: false` plays a bucket that hides ETag. */
export async function setCors(server, origin, { exposeEtag = true } = {}) {
  const rule = {
    AllowedOrigins: [origin],
    AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
    AllowedHeaders: ['*'],
    MaxAgeSeconds: 3000,
  };
  if (exposeEtag) rule.ExposeHeaders = ['ETag'];
  await server.s3.send(new PutBucketCorsCommand({ Bucket: server.bucket, CORSConfiguration: { CORSRules: [rule] } }));
}

/**
 * Makes sure the page's origin may PUT to the bucket and read ETag. Returns whether the rules
 * had to be set here (true means `hoist serve` did not set them for its own page).
 */
export async function ensureCors(server) {
  const rules = await getCors(server);
  const origin = server.coordinator;
  const allows = rules.some(
    (r) => (r.AllowedOrigins || []).some((o) => o === '*' || o === origin) && (r.AllowedMethods || []).includes('PUT') &&
      (r.ExposeHeaders || []).some((h) => h.toLowerCase() === 'etag'),
  );
  if (allows) return false;
  await setCors(server, origin);
  return true;
}

export async function getCors(server) {
  try {
    const answer = await server.s3.send(new GetBucketCorsCommand({ Bucket: server.bucket }));
    return answer.CORSRules || [];
  } catch (err) {
    if (err.name === 'NoSuchCORSConfiguration') return [];
    throw err;
  }
}

/**
 * Replaces the store's injected faults (an empty object turns them all off) through its admin
 * endpoint, authenticated with the store's secret key.
 */
export async function setFaults(server, faults) {
  const url = `${server.store}/_hoist/faults`;
  const headers = { Authorization: `Bearer ${server.credentials.secretAccessKey}`, 'Content-Type': 'application/json' };
  let res = await fetch(url, { method: 'DELETE', headers });
  if (res.ok && Object.keys(faults).length) res = await fetch(url, { method: 'PUT', headers, body: JSON.stringify(faults) });
  const text = await res.text();
  if (!res.ok) throw new Error(`setting faults failed: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** How many faults the store has injected since it started, by kind. */
export async function injectedFaults(server) {
  const res = await fetch(`${server.store}/_hoist/faults/injected`, {
    headers: { Authorization: `Bearer ${server.credentials.secretAccessKey}` },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`reading injected faults failed: ${res.status} ${text}`);
  const counts = JSON.parse(text);
  return { ...counts, total: counts.errors_500 + counts.slow_downs + counts.cuts };
}

/** The stored object's MD5 and size, read back with the AWS SDK. */
export async function storedMd5(server, key) {
  const answer = await server.s3.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of answer.Body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { md5: hash.digest('hex'), size };
}

export async function multipartUploads(server) {
  const answer = await server.s3.send(new ListMultipartUploadsCommand({ Bucket: server.bucket }));
  return answer.Uploads || [];
}

/** Writes `size` random bytes to `path` and returns their MD5. */
export async function makeFile(path, size) {
  mkdirSync(dirname(path), { recursive: true });
  const hash = createHash('md5');
  const out = createWriteStream(path);
  const chunk = 4 * MiB;
  for (let done = 0; done < size; done += chunk) {
    const buf = randomBytes(Math.min(chunk, size - done));
    hash.update(buf);
    if (!out.write(buf)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser({ profile = null, extraArgs = [] } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  // A given profile outlives this browser (to test a restart); a fresh one is removed at close.
  const keep = profile !== null;
  profile = profile || tempDir('profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 640 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
  return {
    context,
    profile,
    async close() {
      await context.close().catch(() => {});
      if (!keep) rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Counts the page's XHRs from send() to their end (load, error, abort or timeout), whatever
 * the script that sends them thinks it has in flight: `window.xhrNow` (in flight now),
 * `window.xhrMax` (the most at once) and `window.xhrLog` (per XHR: when it was sent, how many
 * were in flight right after, its body's size, when it ended). The listeners go on at open(),
 * before any of the page's own; call before the page loads.
 */
export async function countXhrs(page) {
  await page.addInitScript(() => {
    window.xhrNow = 0;
    window.xhrMax = 0;
    window.xhrLog = [];
    const open = XMLHttpRequest.prototype.open;
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.open = function (...args) {
      this.entry = null;
      const landed = () => {
        if (this.entry && this.entry.end === null) {
          window.xhrNow -= 1;
          this.entry.end = performance.now();
        }
      };
      for (const type of ['load', 'error', 'abort', 'timeout']) this.addEventListener(type, landed);
      return open.apply(this, args);
    };
    XMLHttpRequest.prototype.send = function (body) {
      window.xhrNow += 1;
      window.xhrMax = Math.max(window.xhrMax, window.xhrNow);
      this.entry = { start: performance.now(), end: null, inFlight: window.xhrNow, bytes: body?.size ?? 0 };
      window.xhrLog.push(this.entry);
      return send.call(this, body);
    };
  });
}

/** Records every request the page makes and what it got. */
export function recordTraffic(page, server) {
  const log = [];
  let started = 0;
  page.on('request', () => {
    started += 1;
  });
  page.on('requestfinished', async (request) => {
    const response = await request.response().catch(() => null);
    log.push(entry(request, response ? response.status() : 0, null));
  });
  page.on('requestfailed', (request) => log.push(entry(request, 0, request.failure()?.errorText || 'failed')));
  function entry(request, status, failure) {
    const url = new URL(request.url());
    return {
      at: Date.now(),
      method: request.method(),
      url: request.url(),
      toStore: url.origin === server.store,
      path: url.pathname,
      partNumber: url.searchParams.has('partNumber') ? Number(url.searchParams.get('partNumber')) : null,
      status,
      failure,
    };
  }
  return {
    log,
    started: () => started,
    partPuts: () => log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber !== null),
    storedParts: () => new Set(log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber !== null && e.status === 200).map((e) => e.partNumber)),
    signCalls: () => log.filter((e) => !e.toStore && e.method === 'POST' && /\/v1\/uploads\/[^/]+\/parts$/.test(e.path)),
  };
}

/** Opens the upload page and waits until its script is running. */
export async function openPage(context, server, query = '') {
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  page.on('dialog', (dialog) => dialog.accept().catch(() => {}));
  await page.goto(`${server.coordinator}/${query}`);
  await page.waitForFunction(() => typeof document.getElementById('file') === 'object' && document.body.dataset.ready !== undefined || document.readyState === 'complete');
  return { page, errors };
}

/** Picks `path` in the page's file input, as a person would. */
export async function pickFile(page, path) {
  await page.setInputFiles('#file', path);
}

/** Waits for the page's upload to reach `done` (or fail) and returns the result link text. */
export async function waitDone(page, timeout = 300_000) {
  const handle = await page.waitForFunction(
    () => {
      const s = document.body.dataset.state;
      return s === 'done' || s === 'error' || s === 'canceled' ? s : null;
    },
    null,
    { timeout, polling: 200 },
  );
  const state = await handle.jsonValue();
  if (state !== 'done') {
    const text = await page.textContent('#error').catch(() => '');
    throw new Error(`the upload ended ${state}: ${text}`);
  }
  const link = await page.textContent('#object-link');
  return link; // "bucket/key"
}

/** What `await u.done` gave the page: {bucket, key, etag, size}. */
export async function uploadResult(page) {
  return page.evaluate(() => window.hoistUpload.done);
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** An HS256 grant (a JWT) as a web app's backend mints it for a browser: `sub`, `prefix`, … */
export function mintGrant(secret, claims) {
  const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/**
 * Serves `files` ({'/path': {type, body}}) on a loopback port of its own: a web app on another
 * origin than the coordinator and the store, so that every call the page makes is cross-origin.
 */
export async function startSite(files) {
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * Bundles `pages/uppy-page.mjs` with esbuild for one Uppy generation: `6` uses `@uppy/core` and
 * `@uppy/aws-s3` as installed, `5` maps both onto their 5.x aliases (`uppy-core-5`,
 * `uppy-aws-s3-5`) everywhere, dependencies included. Answers the script's text.
 */
export async function bundleUppyPage(generation) {
  const { build } = await import('esbuild');
  const alias = generation === 5 ? { '@uppy/core': 'uppy-core-5', '@uppy/aws-s3': 'uppy-aws-s3-5' } : {};
  const out = await build({
    entryPoints: [join(here, 'pages', 'uppy-page.mjs')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    alias,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}
