// concurrency 'auto' (the default): four requests to the store at first, six once requests of a
// MiB or more finish quickly, four again once one takes long. Counted in the page from every
// XHR's send() to its answer, whatever hoist.js thinks it has in flight; each object read back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, makeFile, storedMd5, ensureCors, tempDir, setFaults, countXhrs,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  // Files from 16 MiB on go as parts (8 MiB each), so that a few parts make a short test.
  server = await startHoist({ extraArgs: ['--single-put-threshold', '16MiB'] });
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

/** A new page whose XHRs are counted (`countXhrs`), with a file input for the API. */
async function countingPage() {
  const page = await browser.context.newPage();
  await countXhrs(page);
  await page.goto(`${server.coordinator}/`);
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'api-file';
    document.body.append(input);
  });
  return page;
}

/** The log in short, for a failure's message: start-end ms, requests in flight, MiB. */
const show = (log) => log.map((e) => `${Math.round(e.start)}-${Math.round(e.end)}:${e.inFlight}:${(e.bytes / MiB).toFixed(0)}`).join(' ');

/** Starts upload(file, options) in the page; window.done resolves with its result. */
async function startUpload(page, path, options) {
  await page.setInputFiles('#api-file', path);
  await page.evaluate(async (opts) => {
    const { upload } = await import('/hoist.js');
    window.up = upload(document.getElementById('api-file').files[0], opts);
    window.done = window.up.done;
  }, options);
}

test("concurrency 'auto' sends six parts at once while they finish quickly, four while they take long", async () => {
  const path = join(files, 'fast.bin');
  const md5 = await makeFile(path, 128 * MiB);
  let page = await countingPage();
  await startUpload(page, path, { resume: false });
  let result = await page.evaluate(() => window.done);
  let log = await page.evaluate(() => window.xhrLog);
  assert.deepEqual(await storedMd5(server, result.key), { md5, size: 128 * MiB });
  const parts = log.filter((e) => e.bytes >= MiB);
  assert.equal(parts.length, 16, 'sixteen parts of 8 MiB');
  // Four at first: the first four parts went before any answered.
  assert.deepEqual(parts.slice(0, 4).map((e) => e.inFlight), [1, 2, 3, 4]);
  assert.equal(Math.max(...log.map((e) => e.inFlight)), 6, 'six in flight once parts finished quickly');
  await page.close();

  // 6 MiB/s per connection: an 8 MiB part takes about 1.3 s, and the limit never rises.
  await setFaults(server, { bandwidth_bytes_per_sec: 6 * MiB });
  try {
    const slowPath = join(files, 'slow.bin');
    const slowMd5 = await makeFile(slowPath, 48 * MiB);
    page = await countingPage();
    await startUpload(page, slowPath, { resume: false, autoConcurrency: { raiseBelowMs: 1_000 } });
    result = await page.evaluate(() => window.done);
    log = await page.evaluate(() => window.xhrLog);
    assert.deepEqual(await storedMd5(server, result.key), { md5: slowMd5, size: 48 * MiB });
    const slowParts = log.filter((e) => e.bytes >= MiB);
    assert.ok(slowParts.every((e) => e.end - e.start >= 1_000), `parts took ${slowParts.map((e) => Math.round(e.end - e.start))} ms`);
    assert.equal(Math.max(...log.map((e) => e.inFlight)), 4, show(log));
    await page.close();
  } finally {
    await setFaults(server, {});
  }
});

test("concurrency 'auto' goes back to four when parts slow down, and a number stays fixed", async () => {
  const path = join(files, 'slowing.bin');
  const md5 = await makeFile(path, 192 * MiB);
  // A quick link first: the limit rises to six.
  await setFaults(server, { bandwidth_bytes_per_sec: 32 * MiB });
  try {
    const page = await countingPage();
    await startUpload(page, path, { resume: false, autoConcurrency: { raiseBelowMs: 2_000, lowerAboveMs: 3_000 } });
    await page.waitForFunction(() => window.xhrLog.filter((e) => e.bytes >= 1024 * 1024 && e.end !== null).length >= 6, null, { timeout: 60_000 });
    // Then 2 MiB/s per connection: a part takes 4 s or more, the limit falls back to four.
    await setFaults(server, { bandwidth_bytes_per_sec: 2 * MiB });
    const result = await page.evaluate(() => window.done);
    const log = await page.evaluate(() => window.xhrLog);
    assert.deepEqual(await storedMd5(server, result.key), { md5, size: 192 * MiB });
    const parts = log.filter((e) => e.bytes >= MiB);
    assert.equal(parts.length, 24);
    assert.equal(Math.max(...parts.map((e) => e.inFlight)), 6, `six in flight while parts were quick: ${show(log)}`);
    const firstSlow = parts.find((e) => e.end - e.start >= 3_000);
    assert.ok(firstSlow, `a part took 3 s or more: ${show(log)}`);
    const after = parts.filter((e) => e.start > firstSlow.end);
    assert.ok(after.length >= 2, `${after.length} parts sent after the first slow one ended: ${show(log)}`);
    assert.deepEqual(after.filter((e) => e.inFlight > 4).map((e) => e.inFlight), [], `at most four in flight after a slow part: ${show(log)}`);
    assert.equal(Math.max(...after.map((e) => e.inFlight)), 4, `four in flight after a slow part: ${show(log)}`);
    await page.close();
  } finally {
    await setFaults(server, {});
  }

  // A number is the limit, whatever the parts' pace.
  const fixedPath = join(files, 'fixed.bin');
  const fixedMd5 = await makeFile(fixedPath, 64 * MiB);
  const page = await countingPage();
  await startUpload(page, fixedPath, { resume: false, concurrency: 3 });
  const result = await page.evaluate(() => window.done);
  const log = await page.evaluate(() => window.xhrLog);
  assert.deepEqual(await storedMd5(server, result.key), { md5: fixedMd5, size: 64 * MiB });
  assert.equal(Math.max(...log.map((e) => e.inFlight)), 3, show(log));
  await page.close();
});
