// A bucket whose CORS rules do not expose ETag: the browser cannot read any part's ETag,
// completes without them (the coordinator reads them with ListParts), and says why.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  setCors, getCors, tempDir, uploadResult, recordTraffic,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  server = await startHoist();
  await setCors(server, server.coordinator, { exposeEtag: false });
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('CORS without ExposeHeaders ETag: the upload still completes intact', async () => {
  const rules = await getCors(server);
  assert.ok(rules.every((r) => !(r.ExposeHeaders || []).some((h) => h.toLowerCase() === 'etag')), 'the bucket still exposes ETag');
  const path = join(files, 'hidden-etag.bin');
  const md5 = await makeFile(path, 130 * MiB);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal((await storedMd5(server, result.key)).md5, md5);
  assert.ok(traffic.storedParts().size > 1, 'not a multipart upload');
  // The browser really could not read the ETag, and the page told the user so, by cause id.
  const hidden = await page.evaluate(() => window.hoistUpload.etagHidden);
  assert.equal(hidden, true);
  assert.equal(await page.getAttribute('#warning', 'data-cause'), 'cors-etag-hidden');
  assert.equal(await page.isVisible('#warning'), true);
  assert.deepEqual(errors, []);
});
