// hoist serve terminating TLS itself (--tls-cert/--tls-key, a test CA made by openssl):
// Chromium trusts the certificate by the launch flag that pins its public key, loads the
// upload page over https (a secure context), and uploads a multipart file whose parts go to
// the embedded store over https too; the object is read back with the AWS SDK trusting the CA.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import {
  MiB, startHoist, launchBrowser, openPage, pickFile, waitDone, makeFile, tempDir, recordTraffic,
} from '../helpers.mjs';

let server;
let browser;
let files;
let ca;

/** A CA and a leaf for localhost and 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir) {
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=hoist test CA');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'leaf.pem', '-days', '2', '-extfile', 'ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'leaf.pem'), key: join(dir, 'leaf.key') };
}

/** Chromium's --ignore-certificate-errors-spki-list value: base64 SHA-256 of the SPKI. */
function spkiHash(certPath) {
  const spki = new X509Certificate(readFileSync(certPath)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

before(async () => {
  files = tempDir('tls');
  const made = makeCertificates(files);
  ca = readFileSync(made.ca);
  server = await startHoist({ extraArgs: ['--tls-cert', made.cert, '--tls-key', made.key] });
  browser = await launchBrowser({ extraArgs: [`--ignore-certificate-errors-spki-list=${spkiHash(made.cert)}`] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

test('the upload page over https uploads a multipart file to the store over https', async () => {
  assert.match(server.coordinator, /^https:\/\//);
  assert.match(server.store, /^https:\/\//);
  const path = join(files, 'over-tls.bin');
  const md5 = await makeFile(path, 110 * MiB);
  const { page, errors } = await openPage(browser.context, server);
  assert.deepEqual(await page.evaluate(() => [location.protocol, window.isSecureContext]), ['https:', true]);
  const traffic = recordTraffic(page, server);
  await pickFile(page, path);
  const link = await waitDone(page);
  const key = link.slice(link.indexOf('/') + 1);
  const partPuts = traffic.log.filter((e) => e.toStore && e.method === 'PUT');
  assert.ok(partPuts.length >= 2, `expected part PUTs to the store, saw ${partPuts.length}`);
  assert.ok(partPuts.every((e) => e.url.startsWith('https://')), 'a part went over plain http');

  const s3 = new S3Client({
    endpoint: server.store,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: server.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
  });
  const answer = await s3.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of answer.Body) {
    hash.update(chunk);
    size += chunk.length;
  }
  assert.equal(size, 110 * MiB);
  assert.equal(hash.digest('hex'), md5);
  assert.deepEqual(errors, []);
});
