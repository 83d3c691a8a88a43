// No-clobber uploads through hoist.js in Chromium: two uploads of one key with `noClobber`, at
// once, as one PUT and as multipart: exactly one is stored, the other ends in `already-exists`
// with the catalogue's words. And a PUT whose 200 is lost (a proxy in front of the store lets
// it land, then cuts the connection): the retry meets the page's own object and the upload
// ends done, not already-exists.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

import {
  MiB, REPO, HOIST_BIN, startHoist, launchBrowser, openPage, ensureCors, setCors, s3Client, storedMd5, tempDir,
  multipartUploads,
} from '../helpers.mjs';

const API_KEY = 'browser-no-clobber-key';
let server;
let browser;

before(async () => {
  server = await startHoist({
    extraArgs: ['--api-key', API_KEY, '--single-put-threshold', '5MiB', '--part-size', '5MiB'],
  });
  await ensureCors(server);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Runs, in the page, one hoist.js upload per entry of `seeds` of a `size`-byte file (bytes from
 * the seed) to `key` with noClobber, all at once. Each gives {ok, etag, md5} or
 * {ok: false, causeId, message, status}.
 */
async function uploadsAtOnce(page, endpoint, key, size, seeds) {
  return page.evaluate(async ({ endpoint, key, size, seeds, token }) => {
    const { upload } = await import('/hoist.js');
    const file = (seed) => {
      const bytes = new Uint8Array(size);
      let x = seed * 2654435761 >>> 0;
      for (let i = 0; i < size; i++) {
        x = (x * 1664525 + 1013904223) >>> 0;
        bytes[i] = x >>> 24;
      }
      return new File([bytes], `f${seed}.bin`, { type: 'application/octet-stream' });
    };
    const runs = seeds.map((seed) => upload(file(seed), { endpoint, token, key, noClobber: true, resume: false }).done.then(
      (r) => ({ seed, ok: true, etag: r.etag, size: r.size }),
      (e) => ({ seed, ok: false, causeId: e.causeId, message: e.message, status: e.status }),
    ));
    return Promise.all(runs);
  }, { endpoint, key, size, seeds, token: API_KEY });
}

/** The MD5 of the bytes `uploadsAtOnce` makes from `seed`. */
function md5Of(seed, size) {
  const bytes = Buffer.alloc(size);
  let x = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    bytes[i] = x >>> 24;
  }
  return createHash('md5').update(bytes).digest('hex');
}

function exactlyOneWon(results, size) {
  const won = results.filter((r) => r.ok);
  const lost = results.filter((r) => !r.ok);
  assert.equal(won.length, 1, JSON.stringify(results));
  assert.equal(lost.length, results.length - 1, JSON.stringify(results));
  for (const l of lost) {
    assert.equal(l.causeId, 'already-exists', JSON.stringify(l));
    assert.match(l.message, /already stored|may not replace/, l.message);
  }
  return { winner: won[0], md5: md5Of(won[0].seed, size) };
}

for (const [kind, size] of [['one PUT', 2 * MiB + 3], ['multipart', 12 * MiB + 5]]) {
  test(`two no-clobber uploads of one key at once (${kind}): one is stored, the other is already-exists`, async () => {
    const { page, errors } = await openPage(browser.context, server);
    const key = `no-clobber/${kind.replace(' ', '-')}.bin`;
    const results = await uploadsAtOnce(page, server.coordinator, key, size, [1, 2]);
    const { md5 } = exactlyOneWon(results, size);
    assert.deepEqual(await storedMd5(server, key), { md5, size });
    // The loser's multipart upload is not left behind in the store.
    assert.deepEqual(await multipartUploads(server), []);
    // A third, later, meets the stored object at once.
    const [late] = await uploadsAtOnce(page, server.coordinator, key, size, [3]);
    assert.equal(late.ok, false);
    assert.equal(late.causeId, 'already-exists');
    assert.deepEqual(await storedMd5(server, key), { md5, size });
    assert.deepEqual(errors, []);
  });
}

/** `hoist store`, the lost-answer proxy in front of it, and `hoist serve` using it as its store. */
async function startBehindProxy(loseAnswerOf) {
  const data = tempDir('lost-answer');
  const access = 'AKIDBROWSERLOST';
  const secret = 'browserLostAnswerSecret0123456789abcdef';
  const children = [];
  // The first line matching `pattern` gives its group; every later line is emitted as 'told'.
  const firstLine = (proc, pattern) => new Promise((resolve, reject) => {
    let found = false;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (found) {
        proc.emit('told', line);
        return;
      }
      const m = pattern.exec(line);
      if (m) {
        found = true;
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => found || reject(new Error(`${proc.spawnargs[1]} exited (${code}) before it was ready`)));
  });
  const store = spawn(HOIST_BIN, ['store', '--listen', '127.0.0.1:0', '--data', join(data, 'store'), '--bucket', 'uploads',
    '--access-key', access, '--secret-key', secret], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(store);
  const storeUrl = await firstLine(store, /hoist store listening on (http:\/\/\S+)/);
  const proxy = spawn('python3', [join(REPO, 'e2e', 'lost_answer.py'), storeUrl, '--lose-answer', 'PUT', loseAnswerOf],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proxy);
  const proxyUrl = await firstLine(proxy, /proxy listening on (http:\/\/\S+)/);
  const lost = [];
  proxy.on('told', (line) => lost.push(line));
  const env = { ...process.env, AWS_ACCESS_KEY_ID: access, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: 'us-east-1' };
  const serve = spawn(HOIST_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', join(data, 'serve'), '--s3-endpoint', proxyUrl,
    '--bucket', 'uploads', '--api-key', API_KEY], { stdio: ['ignore', 'pipe', 'inherit'], env });
  children.push(serve);
  const coordinator = (await firstLine(serve, /hoist coordinator listening on (http:\/\/\S+)/)).replace(/\/$/, '');
  const fronted = { coordinator, store: storeUrl, bucket: 'uploads', credentials: { accessKeyId: access, secretAccessKey: secret } };
  fronted.s3 = s3Client(fronted);
  // An external store's CORS is its owner's: the page's origin is allowed here.
  await setCors(fronted, coordinator);
  fronted.lost = lost;
  fronted.stop = async () => {
    for (const c of children.reverse()) {
      c.kill('SIGTERM');
      if (c.exitCode === null && c.signalCode === null) await once(c, 'exit').catch(() => {});
    }
    rmSync(data, { recursive: true, force: true });
  };
  return fronted;
}

test('a no-clobber PUT whose 200 was lost ends done, with the object it stored', async () => {
  const key = 'lost/answer.bin';
  const fronted = await startBehindProxy(`/uploads/${key}`);
  try {
    const { page, errors } = await openPage(browser.context, fronted);
    const size = 1 * MiB + 7;
    const [result] = await uploadsAtOnce(page, fronted.coordinator, key, size, [5]);
    assert.equal(fronted.lost.length, 1, `the proxy lost no answer: ${JSON.stringify(fronted.lost)}`);
    assert.ok(result.ok, `the upload failed after its answer was lost: ${JSON.stringify(result)}`);
    const md5 = md5Of(5, size);
    assert.equal(result.etag, md5);
    assert.deepEqual(await storedMd5(fronted, key), { md5, size });
    // Another page's upload of the key afterwards is refused: the object is kept.
    const [other] = await uploadsAtOnce(page, fronted.coordinator, key, size, [6]);
    assert.equal(other.causeId, 'already-exists', JSON.stringify(other));
    assert.deepEqual(await storedMd5(fronted, key), { md5, size });
    assert.deepEqual(errors, []);
  } finally {
    await fronted.stop();
  }
});

test('a no-clobber multipart upload reloaded while its Complete is on its way ends done with its object, not already-exists', async () => {
  const { page, errors } = await openPage(browser.context, server);
  const key = 'no-clobber/reloaded.bin';
  const size = 12 * MiB + 5;
  const seed = 9;
  // Starts the upload of the file made from `seed` (the same name, size and date each time, so
  // the page's resume record names it) and answers at once, or, with `wait`, its result.
  const start = (wait) => page.evaluate(async ({ endpoint, key, size, seed, token, wait }) => {
    const { upload } = await import('/hoist.js');
    const bytes = new Uint8Array(size);
    let x = seed * 2654435761 >>> 0;
    for (let i = 0; i < size; i++) {
      x = (x * 1664525 + 1013904223) >>> 0;
      bytes[i] = x >>> 24;
    }
    const file = new File([bytes], 'reloaded.bin', { type: 'application/octet-stream', lastModified: 1_700_000_000_000 });
    const run = upload(file, { endpoint, token, key, noClobber: true }).done.then(
      (r) => ({ ok: true, etag: r.etag, key: r.key, size: r.size }),
      (e) => ({ ok: false, causeId: e.causeId, message: e.message, status: e.status }),
    );
    return wait ? run : null;
  }, { endpoint: server.coordinator, key, size, seed, token: API_KEY, wait });
  const partPuts = [];
  page.on('request', (r) => {
    if (r.method() === 'PUT' && /[?&]partNumber=/.test(r.url())) partPuts.push(r.url());
  });
  // The Complete reaches the coordinator and the store completes the object; the page is
  // reloaded before it hears the answer.
  let reached;
  const completed = new Promise((resolve) => (reached = resolve));
  await page.route('**/v1/uploads/*/complete', async (route) => reached(await route.fetch()));
  await start(false);
  const answer = await completed;
  assert.equal(answer.status(), 200);
  const first = await answer.json();
  assert.ok(partPuts.length >= 3, `${partPuts.length} parts sent`);
  await page.reload();
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  partPuts.length = 0;
  const md5 = md5Of(seed, size);
  assert.deepEqual(await storedMd5(server, key), { md5, size });

  const result = await start(true);
  assert.ok(result.ok, `the reloaded upload of its own object failed: ${JSON.stringify(result)}`);
  assert.equal(result.etag, first.etag.replace(/"/g, ''));
  assert.equal(result.key, key);
  assert.deepEqual(partPuts, [], 'parts of a completed upload were sent again');
  assert.deepEqual(await storedMd5(server, key), { md5, size });
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hoist:upload:'))), []);
  // Another file for the key is still refused: the proof is the parts' ETags, not the record.
  const [other] = await uploadsAtOnce(page, server.coordinator, key, size, [10]);
  assert.equal(other.causeId, 'already-exists', JSON.stringify(other));
  assert.deepEqual(await storedMd5(server, key), { md5, size });
  assert.deepEqual(errors.filter((e) => !/aborted/i.test(String(e))), []);
});
