// A 300 MiB upload through the page's own UI, read back with the AWS SDK: same MD5.
// Also: a screenshot of the page mid-upload, and pause/resume sending nothing while paused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, artifact, tempDir, sleep, uploadResult, setFaults,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  server = await startHoist();
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('a 300 MiB file picked on the page is stored intact', async () => {
  const path = join(files, 'big-video.bin');
  const md5 = await makeFile(path, 300 * MiB);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);

  const started = Date.now();
  await pickFile(page, path);
  // Mid-upload: the page shows the file, a moving bar, speed and time left.
  await page.waitForFunction(
    () => Number(document.getElementById('job').dataset.partsDone || 0) >= 3 && document.getElementById('speed').textContent !== '',
    null,
    { timeout: 120_000 },
  );
  await page.screenshot({ path: artifact('upload-mid.png') });
  const midText = await page.textContent('#job');
  assert.match(midText, /big-video\.bin/);
  assert.match(midText, /of 315 MB/);
  assert.match(midText, /MB\/s/);
  assert.match(midText, /\d+ of 38 parts stored/);

  // Parts are File slices streamed from disk: the page's JavaScript heap stays small.
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const heap = metrics.find((m) => m.name === 'JSHeapUsedSize').value;
  assert.ok(heap < 32 * MiB, `JS heap ${Math.round(heap / MiB)} MiB mid-upload`);

  await waitDone(page);
  const seconds = (Date.now() - started) / 1000;
  const result = await uploadResult(page);
  assert.equal(result.size, 300 * MiB);
  console.log(`# 300 MiB through the page in ${seconds.toFixed(1)} s (${(300 / seconds).toFixed(0)} MiB/s, pick to done); JS heap mid-upload ${(heap / MiB).toFixed(1)} MiB`);
  const stored = await storedMd5(server, result.key);
  assert.equal(stored.size, 300 * MiB);
  assert.equal(stored.md5, md5, 'the stored object differs from the file');

  // It really went as parallel parts straight to the store, never through the coordinator.
  const parts = traffic.storedParts();
  assert.ok(parts.size > 1, `expected a multipart upload, saw ${parts.size} parts`);
  assert.ok(traffic.log.every((e) => !(e.method === 'PUT' && !e.toStore)), 'bytes went through the coordinator');
  assert.equal(await page.getAttribute('#bar', 'aria-valuenow'), '100');
  assert.deepEqual(errors, []);
  await page.screenshot({ path: artifact('upload-done.png') });
});

test('pause sends nothing until resume, then the upload completes intact', async () => {
  const path = join(files, 'paused.bin');
  const md5 = await makeFile(path, 160 * MiB);
  // Slow enough that there is time to pause in the middle.
  await setFaults(server, { bandwidth_bytes_per_sec: 8 * MiB });
  try {
    const { page } = await openPage(browser.context, server);
    const traffic = recordTraffic(page, server);
    await pickFile(page, path);
    await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 2, null, { timeout: 120_000 });
    await page.click('#pause');
    await page.waitForFunction(() => document.body.dataset.state === 'paused');
    await sleep(300); // aborted requests settle
    const before = traffic.log.length;
    const startedBefore = traffic.started();
    await sleep(2000);
    assert.equal(traffic.started(), startedBefore, 'requests were started while paused');
    assert.ok(traffic.log.length - before <= 0, 'requests finished while paused');
    assert.equal(await page.isVisible('#resume'), true);
    await page.click('#resume');
    await waitDone(page);
    const result = await uploadResult(page);
    assert.equal((await storedMd5(server, result.key)).md5, md5);
  } finally {
    await setFaults(server, {});
  }
});

test('a small file goes up as one PUT, intact, with its ETag shown', async () => {
  const path = join(files, 'photo.jpg');
  const md5 = await makeFile(path, 12 * MiB + 17);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page);
  const result = await uploadResult(page);
  const puts = traffic.log.filter((e) => e.toStore && e.method === 'PUT');
  assert.equal(puts.length, 1);
  assert.equal(puts[0].partNumber, null, 'a single PUT carries no partNumber');
  const stored = await storedMd5(server, result.key);
  assert.equal(stored.md5, md5);
  assert.equal(result.etag, md5, "a single PUT's ETag is the MD5 of the body");
  assert.match(await page.textContent('#result'), new RegExp(`ETag ${md5}`));
  assert.match(result.key, /photo\.jpg$/);
  assert.deepEqual(errors, []);
});
