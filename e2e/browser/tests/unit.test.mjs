// The pure parts of web/hoist.js, in Node: how store answers are classified, backoff.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createHash, randomBytes } from 'node:crypto';

import { classifyStore, backoffDelay, Md5, md5OfBlob } from '../../../web/hoist.js';

const s3Error = (code, message) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>1</RequestId></Error>`;

test('an expired URL is re-signed, whichever way the store says it', () => {
  const aws = classifyStore({ status: 403, text: s3Error('AccessDenied', 'Request has expired') });
  assert.equal(aws.kind, 'resign');
  assert.equal(aws.causeId, 'url-expired');
  const garage = classifyStore({ status: 400, text: s3Error('InvalidRequest', 'Bad request: Date is too old') });
  assert.equal(garage.kind, 'resign');
  assert.equal(garage.causeId, 'url-expired');
});

test('transient answers are retried, with no cause blamed', () => {
  for (const [status, code] of [[503, 'SlowDown'], [500, 'InternalError'], [502, ''], [504, ''], [429, ''], [408, '']]) {
    const v = classifyStore({ status, text: code ? s3Error(code, 'x') : '' });
    assert.equal(v.kind, 'retry', `${status} ${code}`);
  }
  assert.equal(classifyStore({ status: 0, reason: 'network' }).kind, 'retry');
  assert.equal(classifyStore({ status: 0, reason: 'stall' }).kind, 'retry');
  assert.equal(classifyStore({ status: 0, reason: 'pause' }).kind, 'aborted');
  assert.equal(classifyStore({ status: 0, reason: 'cancel' }).kind, 'aborted');
});

test('causes from the catalogue are named', () => {
  const cases = [
    [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 'clock-skew', 'resign'],
    [403, 'AccessDenied', 'Request is not yet valid', 'clock-skew', 'resign'],
    [400, 'ExpiredToken', 'The provided token has expired.', 'credentials-expired', 'resign'],
    [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match', 'signature-mismatch', 'fatal'],
    [400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 'entity-too-large', 'fatal'],
    [404, 'NoSuchUpload', 'The specified upload does not exist.', 'no-such-upload', 'fatal'],
    [412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'already-exists', 'fatal'],
    [400, 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', 'sigv2', 'fatal'],
  ];
  for (const [status, code, message, causeId, kind] of cases) {
    const v = classifyStore({ status, text: s3Error(code, message) });
    assert.equal(v.causeId, causeId, code);
    assert.equal(v.kind, kind, code);
    assert.ok(v.message.length > 20, 'a sentence a person can act on');
  }
  const other = classifyStore({ status: 403, text: s3Error('AccessDenied', 'Access Denied') });
  assert.equal(other.kind, 'fatal');
  assert.equal(other.causeId, null);
});

test('backoff grows exponentially, is jittered, and is capped', () => {
  const opts = { retryBaseMs: 100, retryMaxMs: 2000 };
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(2000, 100 * 2 ** (attempt - 1));
    const seen = new Set();
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, opts);
      assert.ok(d >= ceiling / 2 - 1 && d <= ceiling + 1, `attempt ${attempt}: ${d}`);
      seen.add(d);
    }
    if (ceiling >= 200) assert.ok(seen.size > 10, 'no jitter');
  }
});

test('MD5, compared with a single PUT\'s ETag, is RFC 1321\'s for every length and any slicing', async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 9 * 1024 * 1024 + 3]) {
    const bytes = randomBytes(n);
    const want = createHash('md5').update(bytes).digest('hex');
    const md5 = new Md5();
    for (let i = 0; i < n; i += 37) md5.update(bytes.subarray(i, i + 37));
    assert.equal(md5.hex(), want, `${n} bytes`);
    assert.equal(await md5OfBlob(new Blob([bytes])), want, `${n} bytes as a Blob`);
  }
});
