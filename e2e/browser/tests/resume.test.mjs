// Reload the page mid-upload, pick the same file: only the parts the store does not hold go up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import { UploadPartCommand } from '@aws-sdk/client-s3';

import {
  MiB, startHoist, tempDir as freshDir, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, tempDir, setFaults, uploadResult, multipartUploads,
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

test('after a reload, picking the same file sends only the missing parts', async () => {
  const path = join(files, 'resume-me.bin');
  const md5 = await makeFile(path, 200 * MiB);
  await setFaults(server, { bandwidth_bytes_per_sec: 10 * MiB });
  const { page, errors } = await openPage(browser.context, server);
  const first = recordTraffic(page, server);
  await pickFile(page, path);
  await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 6, null, { timeout: 120_000 });
  const partCount = await page.evaluate(() => window.hoistUpload.plan.count);
  await page.reload();
  const storedBefore = first.storedParts();
  page.removeAllListeners('requestfinished');
  page.removeAllListeners('requestfailed');
  page.removeAllListeners('request');
  assert.ok(storedBefore.size >= 6 && storedBefore.size < partCount, `stored ${storedBefore.size} of ${partCount}`);
  assert.equal((await multipartUploads(server)).length, 1);

  // The page remembers the unfinished upload and says so.
  await page.waitForSelector('#unfinished', { state: 'visible' });
  assert.match(await page.textContent('#unfinished'), /resume-me\.bin/);

  await setFaults(server, {});
  const second = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal((await storedMd5(server, result.key)).md5, md5);
  assert.match(await page.textContent('#resumed'), /Resuming: \d+ of \d+ parts were already stored/);

  const sentAfter = new Set(second.partPuts().map((e) => e.partNumber));
  const resent = [...sentAfter].filter((n) => storedBefore.has(n));
  assert.deepEqual(resent, [], `parts stored before the reload were sent again: ${resent}`);
  assert.ok(sentAfter.size <= partCount - storedBefore.size, `${sentAfter.size} parts sent after reload, ${partCount - storedBefore.size} were missing`);
  assert.ok(sentAfter.size > 0);
  // No new multipart upload was created: the same one was completed.
  assert.equal(second.log.filter((e) => !e.toStore && e.method === 'POST' && e.path === '/v1/uploads').length, 0);
  assert.deepEqual(await multipartUploads(server), []);
  assert.deepEqual(errors.filter((e) => !/aborted/i.test(String(e))), []);
  console.log(`# ${storedBefore.size} of ${partCount} parts stored before the reload; ${sentAfter.size} sent after`);
});

test('a part taken over after a reload and replaced by another writer is sent again when the Complete refuses it', async () => {
  const path = join(files, 'replaced.bin');
  const md5 = await makeFile(path, 120 * MiB);
  await setFaults(server, { bandwidth_bytes_per_sec: 10 * MiB });
  const { page, errors } = await openPage(browser.context, server);
  const first = recordTraffic(page, server);
  await pickFile(page, path);
  await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 4, null, { timeout: 120_000 });
  await page.reload();
  const storedBefore = first.storedParts();
  page.removeAllListeners('requestfinished');
  page.removeAllListeners('requestfailed');
  page.removeAllListeners('request');
  const [upload] = await multipartUploads(server);
  await page.waitForSelector('#unfinished', { state: 'visible' });

  // The second session sends the missing parts at the same pace; once one is stored, another
  // writer replaces a part the session took over. The store then refuses the Complete.
  const second = recordTraffic(page, server);
  await pickFile(page, path);
  const deadline = Date.now() + 120_000;
  while (!second.storedParts().size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const replaced = Math.min(...storedBefore);
  await server.s3.send(new UploadPartCommand({
    Bucket: server.bucket, Key: upload.Key, UploadId: upload.UploadId, PartNumber: replaced,
    Body: Buffer.alloc(8 * MiB, 7),
  }));
  await setFaults(server, {});
  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal((await storedMd5(server, result.key)).md5, md5);
  const puts = second.partPuts().filter((e) => e.status === 200).map((e) => e.partNumber);
  assert.equal(puts.filter((n) => n === replaced).length, 1, `part ${replaced} sent again once: ${puts}`);
  assert.deepEqual(puts.filter((n) => storedBefore.has(n) && n !== replaced), []);
  const completes = second.log.filter((e) => !e.toStore && e.method === 'POST' && /\/complete$/.test(e.path));
  assert.deepEqual(completes.map((e) => e.status), [409, 200]);
  assert.deepEqual(await multipartUploads(server), []);
  assert.deepEqual(errors.filter((e) => !/aborted/i.test(String(e))), []);
  console.log(`# the Complete refused part ${replaced} (replaced by another writer); sent again, then completed`);
});

test('after a browser restart, picking the same file sends only the missing parts', async () => {
  const path = join(files, 'restart-me.bin');
  const md5 = await makeFile(path, 160 * MiB);
  const profile = freshDir('kept-profile');
  let first = await launchBrowser({ profile });
  try {
    await setFaults(server, { bandwidth_bytes_per_sec: 10 * MiB });
    const { page } = await openPage(first.context, server);
    const before = recordTraffic(page, server);
    await pickFile(page, path);
    await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 5, null, { timeout: 120_000 });
    const storedBefore = before.storedParts();
    await first.close(); // the whole browser goes away mid-upload
    first = null;
    await setFaults(server, {});

    const second = await launchBrowser({ profile });
    try {
      const { page: again, errors } = await openPage(second.context, server);
      await again.waitForSelector('#unfinished', { state: 'visible' });
      const after = recordTraffic(again, server);
      await pickFile(again, path);
      await waitDone(again);
      const result = await uploadResult(again);
      assert.equal((await storedMd5(server, result.key)).md5, md5);
      const sentAfter = new Set(after.partPuts().map((e) => e.partNumber));
      const resent = [...sentAfter].filter((n) => storedBefore.has(n));
      assert.deepEqual(resent, [], `parts stored before the restart were sent again: ${resent}`);
      assert.equal(after.log.filter((e) => !e.toStore && e.method === 'POST' && e.path === '/v1/uploads').length, 0);
      assert.deepEqual(errors, []);
    } finally {
      await second.close();
    }
  } finally {
    await first?.close();
    await setFaults(server, {});
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a reload while the Complete is on its way: picking the same file again sends nothing and answers the stored object', async () => {
  const path = join(files, 'completed-unheard.bin');
  const md5 = await makeFile(path, 110 * MiB);
  const { page, errors } = await openPage(browser.context, server);
  const first = recordTraffic(page, server);
  // The Complete reaches the coordinator and the store completes the object, but the page
  // never hears the answer: it is reloaded first.
  let reached;
  const completed = new Promise((resolve) => (reached = resolve));
  await page.route('**/v1/uploads/*/complete', async (route) => {
    reached(await route.fetch());
  });
  await pickFile(page, path);
  const answer = await completed;
  assert.equal(answer.status(), 200);
  const object = await answer.json();
  await page.reload();
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  page.removeAllListeners('requestfinished');
  page.removeAllListeners('requestfailed');
  page.removeAllListeners('request');
  const partCount = first.storedParts().size;
  assert.ok(partCount >= 2, `${partCount} parts sent`);
  assert.equal((await storedMd5(server, object.key)).md5, md5);
  assert.deepEqual(await multipartUploads(server), []);

  // The page still holds the record of an upload it did not see finish.
  await page.waitForSelector('#unfinished', { state: 'visible' });
  const second = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal(result.key, object.key);
  assert.equal(result.etag, object.etag.replace(/"/g, ''));
  assert.equal(result.size, 110 * MiB);
  assert.deepEqual(second.partPuts().map((e) => e.partNumber), [], 'parts of a completed upload were sent again');
  assert.equal(second.log.filter((e) => !e.toStore && e.method === 'POST' && e.path === '/v1/uploads').length, 0);
  assert.equal(second.log.filter((e) => !e.toStore && e.method === 'POST' && /\/complete$/.test(e.path)).length, 1);
  assert.equal((await storedMd5(server, object.key)).md5, md5);
  // Nothing is left to resume: the record went with the answer.
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hoist:upload:'))), []);
  assert.deepEqual(errors.filter((e) => !/aborted/i.test(String(e))), []);
});
