// Part URLs that live 2 s, and the first attempt of several parts held back until their URL
// has expired: the store answers 403 "Request has expired" (or the connection fails after
// expiry), hoist.js re-signs and retries, and the upload completes intact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, tempDir, uploadResult, sleep, PART_URL_TTL_ARGS,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  server = await startHoist({ extraArgs: PART_URL_TTL_ARGS('2s') });
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('2-second part URLs whose first attempts fail until after expiry: completes', async () => {
  const path = join(files, 'slow-start.bin');
  const md5 = await makeFile(path, 160 * MiB);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);

  // First attempts of parts 2 and 3 start only after their URL expired (the store must answer
  // 403 Request has expired); those of parts 4 and 5 wait past expiry and then fail as a lost
  // connection, so their retries start late too.
  const held = new Map([[2, 'late'], [3, 'late'], [4, 'cut'], [5, 'cut']]);
  const seen = new Set();
  const expiredAnswers = [];
  page.on('response', async (response) => {
    if (response.status() === 403 && response.url().startsWith(server.store)) {
      expiredAnswers.push({ url: response.url(), body: await response.text().catch(() => '') });
    }
  });
  await page.route(`${server.store}/**`, async (route) => {
    const request = route.request();
    const n = Number(new URL(request.url()).searchParams.get('partNumber'));
    if (request.method() === 'PUT' && held.has(n) && !seen.has(n)) {
      seen.add(n);
      await sleep(3000);
      if (held.get(n) === 'cut') return route.abort('connectionreset');
    }
    return route.continue();
  });

  await pickFile(page, path);
  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal((await storedMd5(server, result.key)).md5, md5);

  assert.equal(seen.size, held.size, 'not every held part was attempted');
  const expiredParts = new Set(expiredAnswers.filter((a) => /Request has expired/.test(a.body)).map((a) => Number(new URL(a.url).searchParams.get('partNumber'))));
  assert.ok(expiredParts.has(2) && expiredParts.has(3), `the store did not answer "Request has expired" for parts 2 and 3: ${[...expiredParts]}`);
  // Each held part was signed again after its URL had expired.
  assert.ok(traffic.signCalls().length >= 2, 'no URL was re-signed');
  assert.deepEqual(errors, []);
});
