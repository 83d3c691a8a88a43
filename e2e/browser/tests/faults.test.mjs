// The store cuts 10% of connections mid-body and answers 5% of requests 503 SlowDown:
// the page's upload still completes, and the object is intact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, tempDir, setFaults, uploadResult, injectedFaults,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  // 5 MiB parts: more requests, so more of them meet the faults.
  server = await startHoist({ extraArgs: ['--part-size', '5MiB'] });
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('10% cut connections and 5% 503 SlowDown: completes intact', async () => {
  const path = join(files, 'unlucky.bin');
  const md5 = await makeFile(path, 240 * MiB);
  // With this seed the 1st, 2nd and 4th fault rolls hit, whichever request or connection
  // draws them: the faults are certain to happen, not merely likely.
  const before = await injectedFaults(server);
  const inForce = await setFaults(server, { cut_fraction: 0.1, slow_down_fraction: 0.05, seed: 28295 });
  assert.equal(inForce.cut_fraction, 0.1);
  assert.equal(inForce.slow_down_fraction, 0.05);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page, 600_000);
  await setFaults(server, {});
  const result = await uploadResult(page);
  const stored = await storedMd5(server, result.key);
  assert.equal(stored.size, 240 * MiB);
  assert.equal(stored.md5, md5);

  // The faults really happened, and the uploader went through them.
  // What the browser met (a refused preflight shows as a failed PUT, status 0).
  const puts = traffic.partPuts();
  const slowDowns = traffic.log.filter((e) => e.toStore && e.status === 503);
  const cut = traffic.log.filter((e) => e.toStore && e.status === 0);
  assert.equal(traffic.storedParts().size, 48);
  const injected = await injectedFaults(server);
  assert.ok(injected.total - before.total >= 3, `the store injected only ${JSON.stringify(injected)}`);
  assert.ok(slowDowns.length + cut.length >= 1, 'the browser met none of the injected faults');
  assert.deepEqual(errors, []);
  console.log(`# ${puts.length} part PUTs for ${traffic.storedParts().size} parts; ${slowDowns.length} answered 503, ${cut.length} cut`);
});
