// hoist.js with its defaults, loaded as the ES module it ships as (served beside this file).
// `options` is empty in the benchmark's rows; exploratory variants (CLIENTS=hoist.js-c6) set one.
import { upload, DEFAULTS } from './hoist.js';

window.clientInfo = { name: 'hoist.js', defaults: { ...DEFAULTS } };

window.benchUpload = async ({ coordinator, options = {} }) => {
  const file = document.getElementById('file').files[0];
  const bar = document.getElementById('bar');
  const t0 = performance.now();
  const u = upload(file, { ...options, endpoint: coordinator, onProgress: (p) => { bar.value = p.fraction; } });
  const result = await u.done;
  const t1 = performance.now();
  return { t0, t1, key: result.key, etag: result.etag, size: result.size, parts: u.plan ? u.plan.count : 1 };
};
