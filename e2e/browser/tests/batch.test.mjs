// Many files at once: a folder of 50 files (nested directories, unicode and spaces in names,
// empty files, one multipart file) dropped on the page and chosen with its folder input, created
// through the coordinator's batch route under one folder and read back byte for byte; a reload
// in the middle, the same folder chosen again, and nothing stored before is sent again; the
// `uploadMany` API's one concurrency limit across files, per-file cancel and retry; and the
// fallback to one POST /v1/uploads per file where a coordinator has no batch route.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import { ListObjectsV2Command, PutBucketCorsCommand } from '@aws-sdk/client-s3';

import {
  MiB, startHoist, launchBrowser, openPage, makeFile, storedMd5, recordTraffic, ensureCors, tempDir,
  setFaults, multipartUploads, countXhrs,
} from '../helpers.mjs';

const ROOT = 'Ferien – Sommer 2024';
const BIG = `${ROOT}/Videos/großes Video 1.bin`;

let server;
let browser;
let files;

before(async () => {
  // Small thresholds: a 24 MiB file is a multipart upload of 5 parts.
  server = await startHoist({ extraArgs: ['--single-put-threshold', '8MiB', '--part-size', '5MiB'] });
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

/** 50 files under `dir/ROOT`: {path (relative, from ROOT), md5, size}. */
async function makeTree(dir) {
  const paths = [
    BIG,
    `${ROOT}/leer.txt`,
    `${ROOT}/Über uns/nichts darin`,
    `${ROOT}/日本語/空 のファイル.txt`,
  ];
  const dirs = ['', 'Über uns/', 'a/b c/d/', '日本語/写真/', 'emoji 🎉 party/', 'Videos/'];
  for (let i = 0; paths.length < 50; i++) {
    const d = dirs[i % dirs.length];
    const name = i % 3 === 0 ? `café menü ${i}.txt` : i % 3 === 1 ? `写真 ${i}.jpg` : `notes-${i} (copy).md`;
    paths.push(`${ROOT}/${d}${name}`);
  }
  const out = [];
  for (const [i, path] of paths.entries()) {
    const size = path === BIG ? 24 * MiB + 4321 : i < 4 ? 0 : i % 7 === 0 ? MiB + i * 1000 : 1000 + i * 4099;
    out.push({ path, size, md5: await makeFile(join(dir, path), size) });
  }
  return out;
}

async function listAll(prefix) {
  const keys = [];
  let token;
  do {
    const answer = await server.s3.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of answer.Contents || []) keys.push(o.Key);
    token = answer.NextContinuationToken;
  } while (token);
  return keys;
}

/** The queue as the page holds it: prefix, and each file's path, state and key. */
function queueOf(page) {
  return page.evaluate(() => {
    const q = window.hoistQueue;
    return { prefix: q.prefix, batch: q.batch, files: q.files.map((f) => ({ path: f.path, state: f.state, key: f.result && f.result.key })) };
  });
}

/** Every file of `tree` is at `folder + path`, and nothing else is under the folder; byte for byte. */
async function assertStored(tree, folder) {
  const keys = (await listAll(folder)).sort();
  assert.deepEqual(keys, tree.map((t) => folder + t.path).sort(), 'the folder holds exactly the files, at their paths');
  for (const t of tree) {
    const stored = await storedMd5(server, folder + t.path);
    assert.deepEqual(stored, { md5: t.md5, size: t.size }, t.path);
  }
}

/** The key prefix every file of the queue went under: one folder, the same for all. */
function folderOf(q) {
  const folders = new Set(q.files.map((f) => {
    assert.ok(f.key && f.key.endsWith(f.path), `${f.path} is stored at ${f.key}`);
    return f.key.slice(0, f.key.length - f.path.length);
  }));
  assert.equal(folders.size, 1, `the files went under several folders: ${[...folders].join(', ')}`);
  const [folder] = folders;
  assert.match(folder, /\/$/);
  if (q.prefix) assert.equal(folder, q.prefix.endsWith('/') ? q.prefix : `${q.prefix}/`);
  return folder;
}

function waitQueue(page, timeout = 300_000) {
  return page.waitForFunction(() => ['done', 'cancelled'].includes(document.body.dataset.queue) && document.body.dataset.queue, null, { timeout, polling: 200 });
}

const coordinatorCalls = (traffic, path) => traffic.log.filter((e) => !e.toStore && e.method === 'POST' && e.path === path);
// A store PUT's key: its path without the bucket, decoded.
const putKey = (e) => decodeURIComponent(e.path.replace(/^\/[^/]+\//, ''));

test('a dropped folder is stored under one folder, at its relative paths, byte for byte', async () => {
  const dir = join(files, 'dropped');
  const tree = await makeTree(dir);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  // A real drop of a directory: Chromium makes its FileSystemEntry tree from the path.
  const box = await page.locator('#drop').boundingBox();
  const cdp = await browser.context.newCDPSession(page);
  const data = { items: [], files: [join(dir, ROOT)], dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) {
    await cdp.send('Input.dispatchDragEvent', { type, x: box.x + box.width / 2, y: box.y + box.height / 2, data });
  }
  assert.equal(await (await waitQueue(page)).jsonValue(), 'done');
  const q = await queueOf(page);
  assert.equal(q.files.length, 50);
  assert.deepEqual(q.files.filter((f) => f.state !== 'done'), []);
  assert.deepEqual(q.files.map((f) => f.path).sort(), tree.map((t) => t.path).sort());
  assert.equal(q.batch, true, 'the coordinator answered the batch route');
  const folder = folderOf(q);
  await assertStored(tree, folder);

  // Created in one batch request, small PUTs confirmed in batches, no file created on its own.
  assert.equal(coordinatorCalls(traffic, '/v1/uploads/batch').length, 1);
  assert.equal(coordinatorCalls(traffic, '/v1/uploads').length, 0);
  const completes = coordinatorCalls(traffic, '/v1/uploads/batch/complete').length;
  assert.ok(completes >= 1 && completes < 49, `${completes} batch completes for 49 single PUTs`);
  assert.ok(traffic.log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber !== null && e.status === 200).length === 5);
  assert.match(await page.textContent('#q-files'), /50 of 50 files/);
  assert.match(await page.textContent('#q-result'), /50 of 50 files stored under /);
  assert.equal((await page.locator('#q-list .row[data-state="done"]').count()), 50);
  assert.deepEqual(await multipartUploads(server), []);
  // A finished queue leaves nothing to continue.
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hoist:')).length), 0);
  assert.deepEqual(errors, []);
});

test('after a reload, choosing the same folder again sends only what was not stored', async () => {
  const dir = join(files, 'reloaded');
  const tree = await makeTree(dir);
  await setFaults(server, { bandwidth_bytes_per_sec: 3 * MiB });
  const { page, errors } = await openPage(browser.context, server, '?concurrency=3');
  const first = recordTraffic(page, server);
  await page.setInputFiles('#folder', join(dir, ROOT));
  await page.waitForFunction(() => Number(document.getElementById('queue').dataset.filesDone || 0) >= 20, null, { timeout: 180_000, polling: 100 });
  const before = await queueOf(page);
  await page.reload();
  page.removeAllListeners('requestfinished');
  page.removeAllListeners('requestfailed');
  page.removeAllListeners('request');
  await setFaults(server, {});
  const storedBefore = new Set(first.log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber === null && e.status === 200).map(putKey));
  const partsBefore = new Set(first.storedParts());
  const doneBefore = before.files.filter((f) => f.state === 'done');
  assert.ok(doneBefore.length >= 20 && doneBefore.length < 50, `${doneBefore.length} done before the reload`);
  const folder = doneBefore[0].key.slice(0, doneBefore[0].key.length - doneBefore[0].path.length);

  // The page says a folder upload was interrupted.
  await page.waitForSelector('#unfinished-queue', { state: 'visible' });
  assert.match(await page.textContent('#unfinished-queue'), new RegExp(`${ROOT}.*\\d+ of 50 files stored`));

  const second = recordTraffic(page, server);
  await page.setInputFiles('#folder', join(dir, ROOT));
  assert.equal(await (await waitQueue(page)).jsonValue(), 'done');
  const after = await queueOf(page);
  assert.deepEqual(after.files.filter((f) => !['done', 'skipped'].includes(f.state)), []);
  // The same folder continued: every file is where it would have been without the reload.
  assert.equal(folderOf(after), folder);
  await assertStored(tree, folder);

  const sentAgain = second.log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber === null && storedBefore.has(putKey(e)));
  assert.deepEqual(sentAgain.map(putKey), [], 'files stored before the reload were sent again');
  const partsAgain = second.partPuts().filter((e) => partsBefore.has(e.partNumber));
  assert.deepEqual(partsAgain.map((e) => e.partNumber), [], 'parts stored before the reload were sent again');
  const skipped = after.files.filter((f) => f.state === 'skipped').length;
  assert.ok(skipped >= doneBefore.length, `${skipped} skipped, ${doneBefore.length} were done`);
  assert.match(await page.textContent('#q-resumed'), /Continuing: \d+ of 50 files were stored before/);
  assert.equal(coordinatorCalls(second, '/v1/uploads').length, 0);
  assert.deepEqual(await multipartUploads(server), []);
  assert.deepEqual(errors.filter((e) => !/aborted/i.test(String(e))), []);
  console.log(`# ${doneBefore.length} of 50 files done before the reload; ${skipped} skipped after it, ${second.log.filter((e) => e.toStore && e.method === 'PUT').length} PUTs sent`);
});

test("a multipart file's resume record goes only once the queue's record names it done", async () => {
  // Were it removed first, a reload in between would find neither and send the file again.
  const dir = join(files, 'handover');
  const root = join(dir, 'handover');
  await makeFile(join(root, 'big.bin'), 24 * MiB + 17);
  for (let i = 0; i < 3; i++) await makeFile(join(root, `small-${i}.txt`), 1000 + i);
  const page = await browser.context.newPage();
  try {
    // Each removal of a resume record is checked, as it happens, against the queue's record.
    await page.addInitScript(() => {
      window.removals = [];
      const remove = Storage.prototype.removeItem;
      Storage.prototype.removeItem = function (key) {
        if (this === window.localStorage && key.startsWith('hoist:upload:')) {
          const name = JSON.parse(key.slice('hoist:upload:'.length))[1];
          const queues = Object.keys(this).filter((k) => k.startsWith('hoist:queue:')).map((k) => JSON.parse(this.getItem(k)));
          window.removals.push({ name, done: queues.some((q) => q && q.done && name in q.done) });
        }
        return remove.call(this, key);
      };
    });
    await page.goto(`${server.coordinator}/`);
    await page.setInputFiles('#folder', root);
    assert.equal(await (await waitQueue(page)).jsonValue(), 'done');
    const q = await queueOf(page);
    assert.deepEqual(q.files.map((f) => f.state), ['done', 'done', 'done', 'done']);
    const removals = await page.evaluate(() => window.removals);
    const big = removals.filter((r) => r.name.endsWith('big.bin'));
    assert.ok(big.length >= 1, `the multipart file's resume record was never removed: ${JSON.stringify(removals)}`);
    assert.deepEqual(big.filter((r) => !r.done), [], 'a resume record went before the queue named its file done');
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hoist:'))), []);
  } finally {
    await page.close();
  }
});

test('uploadMany: one concurrency limit across files, small files pass a big one, per-file cancel and retry', async () => {
  const dir = join(files, 'api');
  const small = [];
  for (let i = 0; i < 12; i++) small.push({ name: `small-${i}.bin`, md5: await makeFile(join(dir, `small-${i}.bin`), 300_000 + i) });
  const bigMd5 = await makeFile(join(dir, 'big.bin'), 24 * MiB);
  await setFaults(server, { bandwidth_bytes_per_sec: 4 * MiB });
  try {
    const page = await browser.context.newPage();
    await countXhrs(page);
    await page.goto(`${server.coordinator}/`);
    await page.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.multiple = true;
      input.id = 'api-files';
      document.body.append(input);
    });
    await page.setInputFiles('#api-files', ['big.bin', ...small.map((s) => s.name)].map((n) => join(dir, n)));
    await page.evaluate(async () => {
      const { uploadMany } = await import('/hoist.js');
      const files = [...document.getElementById('api-files').files];
      window.order = [];
      window.q = uploadMany(files.map((file) => ({ file, path: `api/${file.name}` })), {
        concurrency: 3,
        onFileDone: (f) => window.order.push(f.path),
      });
      // The last small file is cancelled before it starts.
      window.q.files[window.q.files.length - 1].cancel();
    });
    // The big file is cancelled once some of its parts are stored.
    await page.waitForFunction(() => window.q.files[0].upload && window.q.files[0].upload.plan && window.q.files[0].upload.plan.stored.size >= 1, null, { timeout: 120_000 });
    await page.evaluate(() => window.q.files[0].cancel());
    const first = await page.evaluate(async () => {
      const s = await window.q.done;
      return { uploaded: s.uploaded.map((u) => u.path), cancelled: s.cancelled.map((c) => c.path), failed: s.failed.length, states: window.q.files.map((f) => f.state) };
    });
    assert.deepEqual(first.cancelled.sort(), ['api/big.bin', 'api/small-11.bin']);
    assert.equal(first.uploaded.length, 11);
    assert.equal(first.failed, 0);
    // The cancelled multipart upload left nothing on the store.
    assert.deepEqual(await multipartUploads(server), []);

    // Retried, both finish; the big one from the start, the small one as a new upload.
    const second = await page.evaluate(async () => {
      window.q.files[0].retry();
      window.q.files[window.q.files.length - 1].retry();
      const s = await window.q.done;
      return { uploaded: s.uploaded.map((u) => [u.path, u.key]), cancelled: s.cancelled.length, xhrMax: window.xhrMax, order: window.order };
    });
    assert.equal(second.cancelled, 0);
    assert.equal(second.uploaded.length, 13);
    const keys = Object.fromEntries(second.uploaded);
    assert.deepEqual(await storedMd5(server, keys['api/big.bin']), { md5: bigMd5, size: 24 * MiB });
    for (const s of small) assert.equal((await storedMd5(server, keys[`api/${s.name}`])).md5, s.md5, s.name);
    // Never more than 3 requests in flight across the queue, and the limit was reached.
    assert.equal(second.xhrMax, 3, `at most ${second.xhrMax} requests were in flight`);
    // Small files went while the big one was being sent: it was first in the queue, finished last.
    assert.equal(second.order[second.order.length - 1], 'api/big.bin');
    await page.close();
  } finally {
    await setFaults(server, {});
  }
});

/** Forwards everything to the coordinator but answers 404 to the batch routes, as an older coordinator does. */
async function startOldCoordinator(target) {
  const to = new URL(target);
  const seen = { refused: 0 };
  const srv = createServer((req, res) => {
    if (req.url.startsWith('/v1/uploads/batch')) {
      seen.refused += 1;
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end('{"error":"not found","code":"not_found"}');
      return;
    }
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    origin: `http://127.0.0.1:${srv.address().port}`,
    seen,
    async stop() {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
}

test('a coordinator without the batch route gets one POST /v1/uploads per file', async () => {
  const old = await startOldCoordinator(server.coordinator);
  const rule = { AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3000 };
  await server.s3.send(new PutBucketCorsCommand({
    Bucket: server.bucket,
    CORSConfiguration: { CORSRules: [{ ...rule, AllowedOrigins: [server.coordinator, old.origin] }] },
  }));
  try {
    const dir = join(files, 'old');
    const names = ['one.txt', 'two words.txt', 'drei.bin'];
    const md5s = [];
    for (const [i, n] of names.entries()) md5s.push(await makeFile(join(dir, n), 1000 * (i + 1)));
    md5s.push(await makeFile(join(dir, 'big.bin'), 12 * MiB));
    const { page, errors } = await openPage(browser.context, { ...server, coordinator: old.origin });
    const traffic = recordTraffic(page, server);
    await page.setInputFiles('#file', [...names, 'big.bin'].map((n) => join(dir, n)));
    assert.equal(await (await waitQueue(page, 120_000)).jsonValue(), 'done');
    const q = await queueOf(page);
    assert.equal(q.batch, false);
    assert.ok(old.seen.refused >= 1);
    assert.equal(coordinatorCalls(traffic, '/v1/uploads').length, 4);
    for (const [i, n] of [...names, 'big.bin'].entries()) {
      const f = q.files.find((x) => x.path === n);
      assert.equal(f.state, 'done');
      assert.equal((await storedMd5(server, f.key)).md5, md5s[i], n);
    }
    assert.deepEqual(errors, []);
  } finally {
    await old.stop();
    await ensureCors(server);
  }
});
