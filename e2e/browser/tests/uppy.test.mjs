// hoist as the backend of the real Uppy: @uppy/core + @uppy/aws-s3 6.3.1 (`signRequest` on
// `POST /s3/sign`, the browser sending every S3 call to the store; and `companionEndpoint`,
// the Companion routes with a single upload as an S3 POST form) and 5.1.0 (`endpoint`, the
// Companion routes), bundled with esbuild and run in Chromium on a page served from its own
// loopback origin, so the coordinator's and the bucket's CORS are exercised for real. Every
// object is read back with the AWS SDK and compared byte for byte (MD5 and size).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

import {
  MiB, startHoist, launchBrowser, makeFile, tempDir, storedMd5, multipartUploads, recordTraffic,
  mintGrant, startSite, bundleUppyPage, getCors,
} from '../helpers.mjs';

const GRANT_SECRET = 'uppy-e2e-grant-secret';
const MULTIPART_ABOVE = 10 * MiB;

let site;
let server;
let browser;
let files;
const grants = {
  alice: mintGrant(GRANT_SECRET, { sub: 'alice', prefix: 'users/alice' }),
  bob: mintGrant(GRANT_SECRET, { sub: 'bob', prefix: 'users/bob' }),
};

before(async () => {
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
  // The web app's origin is the one place hoist serve is told about: the coordinator's CORS
  // and the embedded bucket's rule both come from it.
  server = await startHoist({ extraArgs: ['--cors-origin', site.origin, '--grant-secret', GRANT_SECRET, '--anonymous=false'] });
  browser = await launchBrowser();
  files = tempDir('uppy-files');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await site?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

async function openUppyPage(generation) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(`${site.origin}/uppy${generation}.html`);
  await page.waitForFunction(() => typeof window.uploadWithUppy === 'function');
  return { page, errors };
}

/** The one stored object whose key ends with `name` (Uppy 6 prefixes a random id). */
async function storedKey(name) {
  const listed = await server.s3.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'users/alice/' }));
  const keys = (listed.Contents || []).map((o) => o.Key).filter((k) => k.endsWith(name));
  assert.equal(keys.length, 1, `objects ending with ${name}: ${JSON.stringify(keys)}`);
  return keys[0];
}

/** Picks a fresh file of `size` bytes and uploads it with Uppy; checks what the store holds. */
async function uploadAndVerify(generation, mode, name, size, type) {
  const path = join(files, name);
  const md5 = await makeFile(path, size);
  const { page, errors } = await openUppyPage(generation);
  const traffic = recordTraffic(page, server);
  const versions = await page.evaluate(() => window.uppyVersions);
  assert.equal(versions.awsS3.split('.')[0], String(generation), JSON.stringify(versions));
  assert.equal(versions.core.split('.')[0], String(generation), JSON.stringify(versions));
  // Chromium types the file from its extension, as it would for a person picking it.
  await page.setInputFiles('#file', path);
  assert.equal(await page.evaluate(() => document.getElementById('file').files[0].type), type);
  const result = await page.evaluate(
    (args) => window.uploadWithUppy(args),
    { coordinator: server.coordinator, grant: grants.alice, mode, multipartAbove: MULTIPART_ABOVE },
  );
  assert.deepEqual(result.failed, [], JSON.stringify(result));
  assert.equal(result.successful.length, 1);
  const key = await storedKey(name);
  assert.ok(key.startsWith('users/alice/'), key);
  assert.deepEqual(await storedMd5(server, key), { md5, size });
  const head = await server.s3.send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
  const signCalls = await page.evaluate(() => window.signCalls);
  assert.deepEqual(errors, []);
  await page.close();
  return { key, head, traffic, signCalls, result };
}

test('the embedded bucket lets the page make every S3 call Uppy 6 makes', async () => {
  const rules = await getCors(server);
  const rule = rules.find((r) => (r.AllowedOrigins || []).includes(site.origin));
  assert.ok(rule, JSON.stringify(rules));
  for (const m of ['GET', 'PUT', 'POST', 'DELETE']) assert.ok(rule.AllowedMethods.includes(m), `${m}: ${JSON.stringify(rule)}`);
  for (const h of ['ETag', 'Location']) assert.ok(rule.ExposeHeaders.some((x) => x.toLowerCase() === h.toLowerCase()), `${h}: ${JSON.stringify(rule)}`);
});

test('Uppy 6.3.1 with /s3/sign: a 24 MiB multipart upload goes straight to the store', async () => {
  const { traffic, signCalls } = await uploadAndVerify(6, 'sign', 'six-big.bin', 24 * MiB, 'application/octet-stream');
  const ops = signCalls.map((c) => `${c.request.method}${c.request.uploadId ? '+id' : ''}${c.request.partNumber ? '+part' : ''}`);
  assert.ok(signCalls.every((c) => c.status === 200), JSON.stringify(signCalls));
  assert.equal(ops.filter((o) => o === 'POST').length, 1, ops.join());
  assert.ok(ops.filter((o) => o === 'PUT+id+part').length >= 3, ops.join());
  assert.equal(ops.filter((o) => o === 'POST+id').length, 1, ops.join());
  // The browser itself sent CreateMultipartUpload, the parts and Complete to the store.
  const toStore = traffic.log.filter((e) => e.toStore);
  assert.ok(toStore.some((e) => e.method === 'POST' && e.url.includes('uploads') && e.status === 200), JSON.stringify(toStore));
  assert.ok(toStore.filter((e) => e.method === 'PUT' && e.partNumber !== null && e.status === 200).length >= 3);
  assert.ok(toStore.some((e) => e.method === 'POST' && e.url.includes('uploadId=') && e.status === 200));
  assert.deepEqual(await multipartUploads(server), []);
});

test('Uppy 6.3.1 with /s3/sign: a small file is one PUT with its content type pinned', async () => {
  const { head, traffic, signCalls } = await uploadAndVerify(6, 'sign', 'six-small.txt', 300 * 1024, 'text/plain');
  assert.equal(head.ContentType, 'text/plain');
  assert.deepEqual(signCalls.map((c) => [c.request.method, c.status]), [['PUT', 200]]);
  const puts = traffic.log.filter((e) => e.toStore && e.method === 'PUT');
  assert.equal(puts.length, 1);
  assert.equal(puts[0].partNumber, null);
});

test('Uppy 6.3.1 with companionEndpoint: a small file is one S3 POST form straight to the store', async () => {
  const { head, traffic, result } = await uploadAndVerify(6, 'companion', 'six-form-small.txt', 300 * 1024, 'text/plain');
  assert.equal(head.ContentType, 'text/plain');
  const params = traffic.log.filter((e) => !e.toStore && e.path === '/s3/params');
  assert.deepEqual(params.map((e) => [e.method, e.status]), [['GET', 200]], JSON.stringify(traffic.log));
  // The form goes to the bucket itself (no key in the path), answered 204; no PUT at all.
  const toStore = traffic.log.filter((e) => e.toStore);
  assert.deepEqual(toStore.map((e) => [e.method, e.path, e.status]), [['POST', `/${server.bucket}`, 204]], JSON.stringify(toStore));
  // Uppy derived the object's URL from the form's action and key.
  assert.ok(result.successful[0].uploadURL.endsWith(encodeURIComponent('six-form-small.txt')), JSON.stringify(result));
});

test('Uppy 6.3.1 with companionEndpoint: a 24 MiB multipart upload on the Companion routes', async () => {
  const { traffic } = await uploadAndVerify(6, 'companion', 'six-form-big.bin', 24 * MiB, 'application/octet-stream');
  const toCoordinator = traffic.log.filter((e) => !e.toStore).map((e) => `${e.method} ${e.path.replace(/\/s3\/multipart\/[^/]+/, '/s3/multipart/ID')} ${e.status}`);
  assert.ok(toCoordinator.includes('POST /s3/multipart 200'), toCoordinator.join());
  assert.ok(toCoordinator.includes('POST /s3/multipart/ID/complete 200'), toCoordinator.join());
  assert.ok(traffic.log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber !== null && e.status === 200).length >= 3);
  assert.ok(!traffic.log.some((e) => e.path === '/s3/params'), 'no single-upload call for a multipart file');
  assert.deepEqual(await multipartUploads(server), []);
});

test('Uppy 5.1.0 with the Companion routes: a 24 MiB multipart upload', async () => {
  const { traffic } = await uploadAndVerify(5, 'endpoint', 'five-big.bin', 24 * MiB, 'application/octet-stream');
  const toCoordinator = traffic.log.filter((e) => !e.toStore).map((e) => `${e.method} ${e.path.replace(/\/s3\/multipart\/[^/]+/, '/s3/multipart/ID')}`);
  assert.ok(toCoordinator.includes('POST /s3/multipart'), toCoordinator.join());
  assert.ok(toCoordinator.includes('POST /s3/multipart/ID/complete'), toCoordinator.join());
  assert.ok(traffic.log.filter((e) => e.toStore && e.method === 'PUT' && e.partNumber !== null).length >= 3);
  assert.deepEqual(await multipartUploads(server), []);
});

test('Uppy 5.1.0 with the Companion routes: a small file is one PUT', async () => {
  const { head, traffic } = await uploadAndVerify(5, 'endpoint', 'five-small.txt', 300 * 1024, 'text/plain');
  assert.equal(head.ContentType, 'text/plain');
  assert.ok(traffic.log.some((e) => !e.toStore && e.path === '/s3/params' && e.status === 200));
  assert.equal(traffic.log.filter((e) => e.toStore && e.method === 'PUT').length, 1);
});

test('/s3/sign refuses keys outside the caller\'s prefix and uploads of another caller', async () => {
  const { page, errors } = await openUppyPage(6);
  // Everything below runs in the page, from the web app's origin, as a hostile script would.
  const outcome = await page.evaluate(async ({ coordinator, grants }) => {
    const sign = async (who, body) => {
      const res = await fetch(`${coordinator}/s3/sign`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${grants[who]}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const created = await sign('alice', { method: 'POST', key: 'secret.bin' });
    const res = await fetch(created.body.url, { method: 'POST', headers: created.body.headers });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await res.text())[1];
    const aliceKey = created.body.key;
    const bobKey = (await sign('bob', { method: 'POST', key: 'mine.bin' })).body.key;
    const out = {
      aliceKey,
      bobKey,
      bobOnAliceKey: await sign('bob', { method: 'PUT', key: aliceKey, uploadId, partNumber: 1 }),
      bobCompletesAlice: await sign('bob', { method: 'POST', key: aliceKey, uploadId }),
      aliceOutsidePrefix: await sign('alice', { method: 'GET', key: bobKey, uploadId }),
      aliceTraversal: await sign('alice', { method: 'GET', key: 'users/alice/../bob/x', uploadId }),
      bobOwnKeyAliceUpload: await sign('bob', { method: 'POST', key: bobKey, uploadId }),
      absurdPart: await sign('alice', { method: 'PUT', key: aliceKey, uploadId, partNumber: 10001 }),
      readObject: await sign('alice', { method: 'GET', key: aliceKey }),
    };
    // Bob's own key with Alice's uploadId: hoist signs a part URL, but the store binds an upload
    // id to its key and refuses it.
    const part = await sign('bob', { method: 'PUT', key: bobKey, uploadId, partNumber: 1 });
    const put = await fetch(part.body.url, { method: 'PUT', body: 'x'.repeat(100) });
    out.bobPartOnAliceUpload = { status: put.status, text: await put.text() };
    // Alice can still abort her own upload from the page (DELETE allowed by the bucket's CORS).
    const abort = await sign('alice', { method: 'DELETE', key: aliceKey, uploadId });
    out.abort = (await fetch(abort.body.url, { method: 'DELETE' })).status;
    return out;
  }, { coordinator: server.coordinator, grants });
  const refused = (r, status, field) => {
    assert.equal(r.status, status, JSON.stringify(r));
    assert.equal(r.body.field, field, JSON.stringify(r));
    assert.ok(r.body.error, JSON.stringify(r));
  };
  assert.ok(outcome.aliceKey.startsWith('users/alice/'), outcome.aliceKey);
  assert.ok(outcome.bobKey.startsWith('users/bob/'), outcome.bobKey);
  refused(outcome.bobOnAliceKey, 403, 'key');
  refused(outcome.bobCompletesAlice, 403, 'key');
  refused(outcome.aliceOutsidePrefix, 403, 'key');
  refused(outcome.aliceTraversal, 400, 'key');
  refused(outcome.bobOwnKeyAliceUpload, 404, 'uploadId');
  refused(outcome.absurdPart, 400, 'partNumber');
  refused(outcome.readObject, 403, 'method');
  assert.equal(outcome.bobPartOnAliceUpload.status, 404, JSON.stringify(outcome.bobPartOnAliceUpload));
  assert.match(outcome.bobPartOnAliceUpload.text, /NoSuchUpload/);
  assert.equal(outcome.abort, 204);
  assert.deepEqual(await multipartUploads(server), []);
  assert.deepEqual(errors, []);
  await page.close();
});
