// hoist.js against two coordinators sharing a token secret in front of one `hoist store`, as
// replicas behind a load balancer run: with `endpoint: [A, B]`, coordinator A killed with
// SIGKILL mid-upload is left for B and the same upload finishes; and an upload interrupted by a
// page reload continues, after the reload, through the other replica, sending only the parts
// the store lacks. The page comes from a site of its own, so that no coordinator serves it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

import {
  MiB, REPO, HOIST_BIN, launchBrowser, setCors, s3Client, storedMd5, tempDir, startSite, makeFile,
  multipartUploads,
} from '../helpers.mjs';

const API_KEY = 'replicas-api-key';
const TOKEN_SECRET = 'token-secret-of-both-browser-replicas';
const ACCESS = 'AKIDREPLICAS';
const SECRET = 'replicasSecretKey0123456789abcdefghij';

let site;
let browser;
let data;
let store;
const children = [];

function firstLine(proc, pattern) {
  return new Promise((resolve, reject) => {
    let found = false;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = !found && pattern.exec(line);
      if (m) {
        found = true;
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    proc.on('exit', (code) => found || reject(new Error(`${proc.spawnargs.slice(1, 3).join(' ')} exited (${code}) before it was ready`)));
  });
}

async function startCoordinator(name) {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: ACCESS, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: 'us-east-1' };
  const proc = spawn(HOIST_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', join(data, name), '--s3-endpoint', store.store,
    '--bucket', 'uploads', '--api-key', API_KEY, '--token-secret', TOKEN_SECRET, '--cors-origin', site.origin,
    '--part-size', '5MiB', '--single-put-threshold', '5MiB'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  children.push(proc);
  return { proc, url: await firstLine(proc, /hoist coordinator listening on (http:\/\/\S+)/) };
}

before(async () => {
  data = tempDir('replicas');
  site = await startSite({
    '/': { type: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>replicas</title><input type="file" id="file">' },
    '/hoist.js': { type: 'text/javascript', body: readFileSync(join(REPO, 'web', 'hoist.js')) },
  });
  const proc = spawn(HOIST_BIN, ['store', '--listen', '127.0.0.1:0', '--data', join(data, 'store'), '--bucket', 'uploads',
    '--access-key', ACCESS, '--secret-key', SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  store = { store: await firstLine(proc, /hoist store listening on (http:\/\/\S+)/), bucket: 'uploads', credentials: { accessKeyId: ACCESS, secretAccessKey: SECRET } };
  store.s3 = s3Client(store);
  await setCors(store, site.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit').catch(() => {});
    }
  }
  await site?.stop();
  if (data) rmSync(data, { recursive: true, force: true });
});

/** Starts hoist.js on the picked file in the page; resolves once `fraction` of it is stored. */
function startUpload(page, options, fraction) {
  return page.evaluate(({ options, fraction }) => new Promise((reached, failed) => {
    import('/hoist.js').then(({ upload }) => {
      const file = document.getElementById('file').files[0];
      window.failovers = [];
      window.resumed = null;
      const u = upload(file, {
        ...options,
        onFailover: (f) => window.failovers.push(f),
        onResume: (r) => { window.resumed = r; },
        onProgress: (p) => { if (p.fraction >= fraction) reached(p.fraction); },
      });
      window.outcome = u.done.then((r) => ({ ok: true, ...r }), (e) => ({ ok: false, message: e.message, causeId: e.causeId }));
      window.outcome.then((o) => (o.ok ? reached(1) : failed(new Error(o.message))));
    }, failed);
  }), { options, fraction });
}

test('a coordinator killed mid-upload is left for the next replica, and the same upload finishes', async () => {
  const a = await startCoordinator('a');
  const b = await startCoordinator('b');
  const path = join(data, 'files', 'failover.bin');
  const md5 = await makeFile(path, 40 * MiB + 3);
  const page = await browser.context.newPage();
  await page.goto(`${site.origin}/`);
  await page.setInputFiles('#file', path);
  await startUpload(page, { endpoint: [a.url, b.url], token: API_KEY, concurrency: 1, resume: false }, 0.25);
  a.proc.kill('SIGKILL');
  await once(a.proc, 'exit');
  const outcome = await page.evaluate(() => window.outcome);
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  const failovers = await page.evaluate(() => window.failovers);
  assert.equal(failovers.length, 1, JSON.stringify(failovers));
  assert.deepEqual([failovers[0].from, failovers[0].to], [a.url, b.url]);
  assert.deepEqual(await storedMd5(store, outcome.key), { md5, size: 40 * MiB + 3 });
  assert.deepEqual(await multipartUploads(store), []);
  await page.close();
});

test('after a reload, the upload continues through another replica with only the missing parts', async () => {
  const a = await startCoordinator('c');
  const b = await startCoordinator('d');
  const path = join(data, 'files', 'reload.bin');
  const size = 40 * MiB + 5;
  const md5 = await makeFile(path, size);
  const page = await browser.context.newPage();
  await page.goto(`${site.origin}/`);
  await page.setInputFiles('#file', path);
  // Through A only, stopped by a reload once a third is stored.
  await startUpload(page, { endpoint: a.url, token: API_KEY, concurrency: 1 }, 0.3);
  await page.reload();
  await page.setInputFiles('#file', path);
  // The reloaded page knows only B.
  await startUpload(page, { endpoint: b.url, token: API_KEY, concurrency: 1 }, 1);
  const outcome = await page.evaluate(() => window.outcome);
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  const resumed = await page.evaluate(() => window.resumed);
  assert.ok(resumed && resumed.partsStored >= 2 && resumed.partsStored < resumed.partsTotal, JSON.stringify(resumed));
  assert.deepEqual(await storedMd5(store, outcome.key), { md5, size });
  assert.deepEqual(await multipartUploads(store), []);
  await page.close();
});
