// Part URLs that live 2 s, and first attempts that fail only after their URL has expired:
//  1. the store delays every request by 2.5 s, so the first PUTs arrive with expired URLs and
//     get 403 "Request has expired"; hoist.js re-signs and retries them;
//  2. then connections are cut after ~2.5 s of body, so those parts' retries start after
//     their URL expired.
// Either way the upload completes intact. (Playwright's request interception cannot be used
// to hold requests back: it breaks cross-origin PUTs of File bodies in Chromium.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, ensureCors, tempDir, uploadResult, setFaults, PART_URL_TTL_ARGS,
} from '../helpers.mjs';

let server;
let browser;
let files;

before(async () => {
  server = await startHoist({ extraArgs: [...PART_URL_TTL_ARGS(2), '--single-put-threshold', '16MiB'] });
  await ensureCors(server);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

/** When a presigned URL stops being valid, from its own X-Amz-Date and X-Amz-Expires. */
function urlExpiry(url) {
  const q = new URL(url).searchParams;
  const d = q.get('X-Amz-Date'); // 20260101T000000Z
  const at = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
  return at + Number(q.get('X-Amz-Expires')) * 1000;
}

test('2-second part URLs, first attempts failing after expiry: re-signed, completes intact', async () => {
  const path = join(files, 'slow-start.bin');
  const size = 120 * MiB;
  const md5 = await makeFile(path, size);
  const { page, errors } = await openPage(browser.context, server);
  const traffic = recordTraffic(page, server);
  const attempts = []; // every part PUT: start time, URL, outcome
  page.on('request', (r) => {
    if (r.method() === 'PUT' && r.url().startsWith(server.store)) attempts.push({ request: r, start: Date.now(), url: r.url(), part: Number(new URL(r.url()).searchParams.get('partNumber')) });
  });
  const expired = [];
  page.on('response', async (response) => {
    if (response.status() === 403 && response.url().startsWith(server.store)) {
      const body = await response.text().catch(() => '');
      if (/Request has expired/.test(body)) expired.push(Number(new URL(response.url()).searchParams.get('partNumber')));
    }
  });

  // Phase 1: every request waits 2.5 s in the store before it is checked.
  await setFaults(server, { latency_ms: 2500 });
  await pickFile(page, path);
  await page.waitForFunction(() => true);
  const deadline = Date.now() + 60_000;
  while (expired.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(expired.length >= 2, 'the store never answered "Request has expired"');
  // Phase 2: connections carry about 2.5 s of body (3 MiB/s), a third of them are then cut.
  await setFaults(server, { bandwidth_bytes_per_sec: 3 * MiB, cut_fraction: 0.35, cut_after_bytes: 7 * MiB });
  await page.waitForFunction(() => Number(document.getElementById('job').dataset.partsDone || 0) >= 8, null, { timeout: 300_000 });
  await setFaults(server, {});

  await waitDone(page);
  const result = await uploadResult(page);
  assert.equal((await storedMd5(server, result.key)).md5, md5);

  // Every part that met an expired URL was stored in the end, with a URL signed afterwards.
  const stored = traffic.storedParts();
  for (const n of expired) assert.ok(stored.has(n), `part ${n} met an expired URL and was never stored`);
  // Some retry started after the URL of the failed attempt before it had expired.
  const byPart = new Map();
  for (const a of attempts) byPart.set(a.part, [...(byPart.get(a.part) || []), a]);
  let lateRetries = 0;
  for (const list of byPart.values()) {
    for (let i = 1; i < list.length; i++) {
      if (list[i].start > urlExpiry(list[i - 1].url)) {
        lateRetries += 1;
        assert.notEqual(list[i].url, list[i - 1].url, `part ${list[i].part} was retried with its expired URL`);
      }
    }
  }
  assert.ok(lateRetries >= 2, `only ${lateRetries} retries started after their URL expired`);
  assert.ok(traffic.signCalls().length >= 2, 'no URL was re-signed');
  assert.deepEqual(errors, []);
  console.log(`# ${expired.length} PUTs met "Request has expired"; ${lateRetries} retries started after expiry; ${attempts.length} part PUTs for ${stored.size} parts`);
});
