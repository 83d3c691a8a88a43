// Cancel in the middle: the multipart upload is aborted, nothing is left in the store, and the
// page forgets the upload (no resume offer).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, makeFile, ensureCors, tempDir,
  setFaults, multipartUploads, recordTraffic, sleep,
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

test('cancel leaves no multipart upload in the store', async () => {
  const path = join(files, 'cancel-me.bin');
  await makeFile(path, 200 * MiB);
  await setFaults(server, { bandwidth_bytes_per_sec: 8 * MiB });
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 2, null, { timeout: 120_000 });
  // Parts are stored and others are in flight: the store holds an upload now.
  assert.equal((await multipartUploads(server)).length, 1);
  await page.click('#cancel');
  await page.waitForFunction(() => document.body.dataset.state === 'canceled', null, { timeout: 30_000 });
  // The page waits for the abort's answer before it says canceled, but the recorder hears of a
  // finished request a little later: give it a moment.
  const aborts = () => traffic.log.filter((e) => !e.toStore && e.method === 'DELETE');
  for (let waited = 0; aborts().length === 0 && waited < 5000; waited += 50) await sleep(50);
  const deletes = aborts();
  assert.equal(deletes.length, 1, 'the page did not ask the coordinator to abort');
  assert.ok([200, 204].includes(deletes[0].status), `abort answered ${deletes[0].status}`);
  // Give any aborted in-flight body time to reach the store; it must not revive the upload.
  await sleep(1500);
  assert.deepEqual(await multipartUploads(server), []);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hoist:')).length), 0);
  assert.equal(await page.isVisible('#again'), true);
  assert.deepEqual(errors, []);
  await setFaults(server, {});
});
