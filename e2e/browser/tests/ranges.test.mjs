// hoist.js sends each part's bytes from the range that comes with its URL, never from a range
// of its own. The coordinator plans 6 MiB parts (a short last one), and a proxy in front of it
// reports another part_size (8 MiB) in every answer: slicing by part_size would send the wrong
// bytes, which the store refuses (each URL pins its content-length). The page is served through
// the proxy, so every coordinator call goes through it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, storedMd5,
  recordTraffic, setCors, tempDir, uploadResult,
} from '../helpers.mjs';

const PLANNED = 6 * MiB;
const REPORTED = 8 * MiB;

let server;
let proxy;
let browser;
let files;

/** Forwards everything to the coordinator, rewriting `part_size` in its JSON answers. */
async function startLyingProxy(target) {
  const to = new URL(target);
  const seen = { rewritten: 0 };
  const srv = createServer((req, res) => {
    const headers = { ...req.headers, host: to.host };
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (answer) => {
      const json = /application\/json/.test(answer.headers['content-type'] || '');
      if (!json) {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks = [];
      answer.on('data', (c) => chunks.push(c));
      answer.on('end', () => {
        let body = Buffer.concat(chunks).toString('utf8');
        const v = body ? JSON.parse(body) : null;
        if (v && typeof v === 'object' && v.part_size === PLANNED) {
          v.part_size = REPORTED;
          seen.rewritten += 1;
          body = JSON.stringify(v);
        }
        const out = { ...answer.headers, 'content-length': Buffer.byteLength(body) };
        delete out['transfer-encoding'];
        res.writeHead(answer.statusCode, out).end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    origin: `http://127.0.0.1:${srv.address().port}`,
    seen,
    async stop() {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
}

before(async () => {
  server = await startHoist({ extraArgs: ['--single-put-threshold', '16MiB', '--part-size', '6MiB'] });
  proxy = await startLyingProxy(server.coordinator);
  await setCors(server, proxy.origin);
  browser = await launchBrowser();
  files = tempDir('files');
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('parts are sliced by the ranges sent with their URLs, not by part_size', async () => {
  const size = 40 * MiB + 12_345; // 7 parts of 6 MiB, the last 4 MiB + 12345 bytes
  const path = join(files, 'planned-elsewhere.bin');
  const md5 = await makeFile(path, size);
  const { page, errors } = await openPage(browser.context, { ...server, coordinator: proxy.origin });
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  await waitDone(page, 120_000);
  const result = await uploadResult(page);
  assert.ok(proxy.seen.rewritten >= 1, 'the proxy never rewrote part_size');
  const stored = await storedMd5(server, result.key);
  assert.deepEqual(stored, { md5, size });
  assert.deepEqual([...traffic.storedParts()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(traffic.partPuts().filter((e) => e.status !== 200).length, 0, 'a part PUT was refused');
  assert.deepEqual(errors, []);
});
