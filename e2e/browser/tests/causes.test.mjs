// hoist.js tells causes in the words of the coordinator's catalogue (GET /v1/causes), fetched
// once per endpoint; only when that fetch fails does it fall back on naming the id.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { describeCause } from '../../../web/hoist.js';
import { startHoist } from '../helpers.mjs';

let server;

before(async () => {
  server = await startHoist();
});

after(async () => {
  await server?.stop();
});

/** Replaces the global fetch for the duration of `body`, counting calls. */
async function withFetch(fake, body) {
  const real = globalThis.fetch;
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push(String(url));
    return fake(url, init);
  };
  try {
    await body(calls);
  } finally {
    globalThis.fetch = real;
  }
}

test('the words are the served catalogue, with the origin filled in', async () => {
  const served = await (await fetch(`${server.coordinator}/v1/causes`)).json();
  for (const id of ['cors-preflight', 'cors-etag-hidden', 'clock-skew', 'no-such-upload', 'sigv2']) {
    const words = await describeCause(id, { endpoint: server.coordinator, origin: 'https://app.example.com' });
    assert.equal(words, served[id].browser.split('{origin}').join('https://app.example.com'), id);
  }
  assert.match(await describeCause('cors-preflight', { endpoint: server.coordinator, origin: 'https://app.example.com' }), /do not allow PUT from https:\/\/app\.example\.com;/);
});

test('the catalogue is fetched once per endpoint', async () => {
  const catalogue = { 'clock-skew': { title: 't', explanation: 'e', fix: 'f', browser: 'Clocks differ for {origin}.' } };
  await withFetch(async () => new Response(JSON.stringify(catalogue), { headers: { 'content-type': 'application/json' } }), async (calls) => {
    const a = await Promise.all([1, 2, 3].map(() => describeCause('clock-skew', { endpoint: 'http://once.test', origin: 'o' })));
    assert.deepEqual(a, ['Clocks differ for o.', 'Clocks differ for o.', 'Clocks differ for o.']);
    await describeCause('clock-skew', { endpoint: 'http://once.test', origin: 'o' });
    assert.deepEqual(calls, ['http://once.test/v1/causes']);
  });
});

test('without the catalogue a short line names the cause, and the next cause asks again', async () => {
  await withFetch(async () => {
    throw new TypeError('Failed to fetch');
  }, async (calls) => {
    const words = await describeCause('url-expired', { endpoint: 'http://down.test' });
    assert.match(words, /url-expired/);
    assert.ok(words.length < 100, words);
    assert.equal(calls.length, 1);
  });
  await withFetch(async () => new Response('{}', { status: 503 }), async () => {
    assert.match(await describeCause('sigv2', { endpoint: 'http://down.test' }), /sigv2/);
  });
  await withFetch(async () => new Response(JSON.stringify({ sigv2: { browser: 'Old signatures.' } })), async (calls) => {
    assert.equal(await describeCause('sigv2', { endpoint: 'http://down.test' }), 'Old signatures.');
    assert.equal(calls.length, 1);
  });
});
