// The network goes away mid-upload: the page waits (and says so), then finishes intact.
// The bucket's CORS rules do not allow the page's origin: the page says so, by cause id.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, setCors, tempDir, setFaults, uploadResult, sleep,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  server = await startHoist();
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('offline mid-upload: waits for the network, then completes intact', async () => {
  await ensureCors(server);
  const path = join(files, 'train-ride.bin');
  const md5 = await makeFile(path, 160 * MiB);
  await setFaults(server, { bandwidth_bytes_per_sec: 8 * MiB });
  try {
    const { page, errors } = await openPage(browser.context, server);
    const traffic = recordTraffic(page, server);
    await pickFile(page, path);
    await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 2, null, { timeout: 120_000 });
    await browser.context.setOffline(true);
    await page.waitForFunction(() => document.body.dataset.state === 'offline', null, { timeout: 30_000 });
    assert.match(await page.textContent('#badge'), /Waiting for network/);
    const started = traffic.started();
    await sleep(3000);
    assert.equal(traffic.started(), started, 'requests were tried while offline');
    await browser.context.setOffline(false);
    await setFaults(server, {});
    await waitDone(page);
    const result = await uploadResult(page);
    assert.equal((await storedMd5(server, result.key)).md5, md5);
    assert.deepEqual(errors, []);
  } finally {
    await browser.context.setOffline(false);
    await setFaults(server, {});
  }
});

test('CORS that does not allow the page: a plain error with cause cors-preflight', async () => {
  await setCors(server, 'https://app.example.com');
  const path = join(files, 'blocked.bin');
  await makeFile(path, 120 * MiB);
  const { page } = await openPage(browser.context, server);
  await pickFile(page, path);
  const state = await page.waitForFunction(() => ['error', 'done'].includes(document.body.dataset.state) && document.body.dataset.state, null, { timeout: 60_000 });
  assert.equal(await state.jsonValue(), 'error');
  const text = await page.textContent('#error');
  assert.match(text, /cause: cors-preflight/);
  assert.match(text, /CORS rules most likely do not allow PUT from http:\/\/127\.0\.0\.1/);
  assert.equal(await page.isVisible('#error'), true);
});
