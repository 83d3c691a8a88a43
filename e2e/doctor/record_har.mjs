// Records a HAR with real Chromium (playwright-core's recordHar) while the upload page meets
// one failure for real, for `hoist doctor explain` to read. Uses the browser harness in
// e2e/browser (its `hoist serve` launcher, Chromium and S3 client).
//
//   node e2e/doctor/record_har.mjs <cors-preflight|cors-etag-hidden|url-expired> OUT.har
//
// Prints one JSON line: {"scenario", "har", "state"} (the page's final state).

import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { CHROMIUM, MiB, PART_URL_TTL_ARGS, makeFile, setCors, setFaults, sleep, startHoist, tempDir } from '../browser/helpers.mjs';

// playwright-core is installed once, in the browser harness.
const { chromium } = createRequire(new URL('../browser/package.json', import.meta.url))('playwright-core');

const [scenario, harPath] = process.argv.slice(2);
const SCENARIOS = {
  // The bucket only allows another origin: the page's PUTs are refused by CORS.
  'cors-preflight': { args: [], size: 2 * MiB, setup: (s) => setCors(s, 'https://somewhere-else.example.com') },
  // The page's origin may PUT but ETag is not exposed: parts succeed, their ETags are hidden.
  'cors-etag-hidden': {
    args: ['--single-put-threshold', '5MiB', '--part-size', '5MiB'],
    size: 12 * MiB,
    setup: (s) => setCors(s, s.coordinator, { exposeEtag: false }),
  },
  // Part URLs live 2 s and the store holds every request 2.5 s: the first parts arrive expired.
  'url-expired': {
    args: [...PART_URL_TTL_ARGS(2), '--single-put-threshold', '5MiB', '--part-size', '5MiB'],
    size: 12 * MiB,
    setup: async (s) => {
      await setCors(s, s.coordinator);
      await setFaults(s, { latency_ms: 2500 });
    },
    // Once a part has met its expired URL, the store is fast again and hoist.js re-signs.
    during: async (s, page) => {
      await page.waitForEvent('response', { predicate: (r) => r.status() === 403, timeout: 60_000 });
      await setFaults(s, {});
    },
  },
};

const plan = SCENARIOS[scenario];
if (!plan || !harPath) {
  console.error(`usage: record_har.mjs <${Object.keys(SCENARIOS).join('|')}> OUT.har`);
  process.exit(2);
}

const server = await startHoist({ extraArgs: plan.args });
const files = tempDir('doctor-har');
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic'] });
let state = 'unknown';
try {
  await plan.setup(server);
  const file = join(files, `${scenario}.bin`);
  await makeFile(file, plan.size);
  const context = await browser.newContext({ recordHar: { path: harPath, content: 'embed' } });
  const page = await context.newPage();
  await page.goto(`${server.coordinator}/`);
  await page.setInputFiles('#file', file);
  const during = plan.during ? plan.during(server, page) : Promise.resolve();
  const ended = page.waitForFunction(
    () => (['done', 'error', 'canceled'].includes(document.body.dataset.state) ? document.body.dataset.state : null),
    null,
    { timeout: 120_000, polling: 200 },
  );
  await during;
  state = await (await ended).jsonValue();
  await sleep(200);
  await context.close(); // writes the HAR
} finally {
  await browser.close();
  await server.stop();
  rmSync(files, { recursive: true, force: true });
}
console.log(JSON.stringify({ scenario, har: harPath, state }));
