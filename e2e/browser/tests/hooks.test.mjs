// The application's pre-create hook refuses an upload, and the person uploading is told why:
// on hoist's own page (hoist.js on /v1/uploads) and through the real Uppy on the Companion
// routes (5.1.0 `endpoint`, single and multipart; 6.3.1 `companionEndpoint`). And an
// `upload.completed` the coordinator could not deliver in time (the answer says
// hook_pending): hoist.js completes again until the application is told.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, makeFile, tempDir, mintGrant, startSite,
  bundleUppyPage, ensureCors,
} from '../helpers.mjs';

const GRANT_SECRET = 'hooks-e2e-grant-secret';
const HOOK_SECRET = `whsec_${Buffer.from('browser hook secret for the tests').toString('base64')}`;
const REASON = 'videos are not accepted here';

let hook;
let site;
let server;
let browser;
let files;
const asked = [];

/** The application's pre-create hook: no videos. */
async function startHook() {
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const { data } = JSON.parse(body);
      asked.push({ route: data.route, type: data.content_type, signed: /^v1,/.test(req.headers['webhook-signature'] || '') });
      if (data.content_type.startsWith('video/')) {
        res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: REASON }));
      } else {
        res.writeHead(204).end();
      }
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { url: `http://127.0.0.1:${srv.address().port}/pre`, stop: () => new Promise((r) => srv.close(r)) };
}

before(async () => {
  hook = await startHook();
  const [uppy5, uppy6] = await Promise.all([bundleUppyPage(5), bundleUppyPage(6)]);
  const page = (src) => ({
    type: 'text/html; charset=utf-8',
    body: `<!doctype html><meta charset="utf-8"><title>Uppy on hoist</title><input type="file" id="file"><script src="${src}"></script>`,
  });
  site = await startSite({
    '/uppy5.html': page('/uppy5.js'),
    '/uppy6.html': page('/uppy6.js'),
    '/uppy5.js': { type: 'text/javascript', body: uppy5 },
    '/uppy6.js': { type: 'text/javascript', body: uppy6 },
  });
  server = await startHoist({
    extraArgs: ['--cors-origin', site.origin, '--grant-secret', GRANT_SECRET,
      '--pre-create-url', hook.url, '--hook-secret', HOOK_SECRET],
  });
  browser = await launchBrowser();
  files = tempDir('hook-files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await site?.stop();
  await hook?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test("hoist's page shows the application's reason for refusing an upload", async () => {
  const path = join(files, 'holiday.mp4');
  await makeFile(path, 200 * 1024);
  const { page, errors } = await openPage(browser.context, server);
  await pickFile(page, path);
  const state = await page.waitForFunction(() => ['error', 'done'].includes(document.body.dataset.state) && document.body.dataset.state, null, { timeout: 60_000 });
  assert.equal(await state.jsonValue(), 'error');
  assert.equal(await page.isVisible('#error'), true);
  const text = await page.textContent('#error');
  assert.ok(text.includes(REASON), text);
  assert.deepEqual(errors, []);
  assert.ok(asked.some((a) => a.route === '/v1/uploads' && a.type === 'video/mp4' && a.signed), JSON.stringify(asked));
  await page.close();
});

for (const [generation, mode, size] of [[5, 'endpoint', 300 * 1024], [5, 'endpoint', 12 * MiB], [6, 'companion', 300 * 1024]]) {
  test(`Uppy ${generation} (${mode}, ${size > MiB ? 'multipart' : 'single'}) shows the application's reason`, async () => {
    const path = join(files, `clip-${generation}-${size}.mp4`);
    await makeFile(path, size);
    const page = await browser.context.newPage();
    await page.goto(`${site.origin}/uppy${generation}.html`);
    await page.waitForFunction(() => typeof window.uploadWithUppy === 'function');
    await page.setInputFiles('#file', path);
    const result = await page.evaluate(
      (args) => window.uploadWithUppy(args),
      { coordinator: server.coordinator, grant: mintGrant(GRANT_SECRET, { sub: 'carol', prefix: 'users/carol' }), mode, multipartAbove: 10 * MiB },
    );
    assert.deepEqual(result.successful, [], JSON.stringify(result));
    assert.equal(result.failed.length, 1, JSON.stringify(result));
    assert.ok(result.failed[0].error.includes(REASON), JSON.stringify(result));
    await page.close();
  });
}

/**
 * A webhook receiver that refuses every `upload.completed` until `openAfterMs` after the first
 * one arrived (null: forever), and accepts everything else; `told` lists the accepted
 * completed events' data.
 */
async function startLateReceiver(openAfterMs) {
  const told = [];
  let first = null;
  let refused = 0;
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const event = JSON.parse(body);
      if (event.type === 'upload.completed') {
        first ??= Date.now();
        if (openAfterMs === null || Date.now() < first + openAfterMs) {
          refused += 1;
          res.writeHead(503).end();
          return;
        }
        told.push(event.data);
      }
      res.writeHead(204).end();
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    url: `http://127.0.0.1:${srv.address().port}/events`,
    told,
    refused: () => refused,
    reset: () => { first = null; },
    stop: () => new Promise((r) => srv.close(r)),
  };
}

test('hoist.js completes again while the application was not told, single PUT and multipart', async () => {
  const receiver = await startLateReceiver(1500);
  const late = await startHoist({
    extraArgs: ['--hook-url', receiver.url, '--hook-secret', HOOK_SECRET, '--hook-deliver-within', '1',
      '--single-put-threshold', '5MiB', '--part-size', '5MiB'],
  });
  try {
    await ensureCors(late);
    const { page, errors } = await openPage(browser.context, late);
    for (const size of [300 * 1024, 12 * MiB]) {
      receiver.reset();
      const result = await page.evaluate(async ({ endpoint, size }) => {
        const { upload } = await import('/hoist.js');
        const pending = [];
        const file = new File([new Uint8Array(size).fill(7)], `late-${size}.bin`);
        const r = await upload(file, { endpoint, resume: false, hookRetryWaitMs: 1000, onHookPending: (p) => pending.push(p) }).done;
        return { ...r, pending };
      }, { endpoint: late.coordinator, size });
      assert.equal(result.size, size, JSON.stringify(result));
      assert.equal(result.hookPending, false, JSON.stringify(result));
      assert.deepEqual(result.pending[0], { completes: 1, delayMs: 1000 }, JSON.stringify(result));
      const told = receiver.told.filter((d) => d.key === result.key);
      assert.equal(told.length, 1, JSON.stringify(receiver.told));
      assert.equal(told[0].size, size);
    }
    assert.ok(receiver.refused() >= 2, `${receiver.refused()}`);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await late.stop();
    await receiver.stop();
  }
});
