// The ceiling: the same parts as hoist.js's plan (the coordinator's), every URL signed up front,
// then a bare fetch() PUT loop with `concurrency` requests in flight and nothing else on the
// main thread: what this browser's network stack gives to a script that does almost nothing.
// `api: 'xhr'` sends the same PUTs with XMLHttpRequest (no progress listener) instead;
// `buffer: true` reads each part into an ArrayBuffer before its PUT instead of sending the slice.

window.clientInfo = { name: 'ceiling' };

async function api(coordinator, method, path, body) {
  const res = await fetch(coordinator + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

function xhrPut(url, headers, body) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.onload = () => resolve({
      ok: xhr.status >= 200 && xhr.status < 300,
      status: xhr.status,
      headers: { get: (name) => xhr.getResponseHeader(name) },
      text: async () => xhr.responseText,
    });
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(body);
  });
}

window.benchUpload = async ({ coordinator, options: { concurrency = 6, api: how = 'fetch', buffer = false } = {} }) => {
  const file = document.getElementById('file').files[0];
  const bar = document.getElementById('bar');
  const t0 = performance.now();
  const created = await api(coordinator, 'POST', '/v1/uploads', { size: file.size, filename: file.name });
  if (created.strategy !== 'multipart') throw new Error(`expected multipart, got ${created.strategy}`);
  const id = encodeURIComponent(created.id);
  const parts = new Map();
  for (const p of created.parts || []) parts.set(p.number, p);
  const missing = [];
  for (let n = 1; n <= created.part_count; n++) if (!parts.has(n)) missing.push(n);
  for (let i = 0; i < missing.length; i += 100) {
    const answer = await api(coordinator, 'POST', `/v1/uploads/${id}/parts`, { numbers: missing.slice(i, i + 100) });
    for (const p of answer.parts) parts.set(p.number, p);
  }
  const queue = [...parts.keys()].sort((a, b) => a - b);
  const etags = new Map();
  let sent = 0;
  const worker = async () => {
    while (queue.length) {
      const n = queue.shift();
      const p = parts.get(n);
      const headers = {};
      for (const [k, v] of Object.entries(p.headers || {})) if (!/^(content-length|host)$/i.test(k)) headers[k] = v;
      const slice = file.slice(p.offset, p.offset + p.length);
      const body = buffer ? await slice.arrayBuffer() : slice;
      const res = how === 'xhr' ? await xhrPut(p.url, headers, body) : await fetch(p.url, { method: 'PUT', headers, body });
      if (!res.ok) throw new Error(`part ${n}: ${res.status} ${await res.text()}`);
      etags.set(n, res.headers.get('ETag'));
      sent += p.length;
      bar.value = sent / file.size;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const done = await api(coordinator, 'POST', `/v1/uploads/${id}/complete`, {
    parts: [...etags].sort((a, b) => a[0] - b[0]).map(([number, etag]) => ({ number, etag })),
  });
  const t1 = performance.now();
  return { t0, t1, key: done.key ?? created.key, etag: done.etag, size: done.size, parts: created.part_count };
};
