// @uppy/companion as its documentation shows it embedded: an express app that mounts
// `companion.app(options)`, here with only the S3 routes configured, against the store that
// bench/coordinator.sh started. Settings come from the environment:
//   COMPANION_PORT, COMPANION_DATA (companion's filePath), S3_ENDPOINT, S3_BUCKET,
//   S3_KEY, S3_SECRET, S3_REGION (us-east-1 by default).
// Prints "companion listening on http://127.0.0.1:PORT" once it accepts connections.
import express from 'express';
import * as companion from '@uppy/companion';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is needed`);
  return v;
};

const port = Number(env('COMPANION_PORT', '3020'));
const options = {
  secret: 'bench-companion-secret',
  filePath: env('COMPANION_DATA'),
  server: { host: `127.0.0.1:${port}`, protocol: 'http' },
  uploadUrls: [`http://127.0.0.1:${port}`],
  corsOrigins: true,
  s3: {
    endpoint: env('S3_ENDPOINT'),
    bucket: env('S3_BUCKET'),
    key: env('S3_KEY'),
    secret: env('S3_SECRET'),
    region: env('S3_REGION', 'us-east-1'),
    forcePathStyle: true,
    // The SDK Companion 6.2.2 pins (3.986) signs the CRC32 of the empty body into every
    // UploadPart URL by default, so any real part sent on one is refused (BadDigest).
    // WHEN_REQUIRED makes the URLs usable; COMPANION_SDK_CHECKSUMS=default keeps the default.
    ...(process.env.COMPANION_SDK_CHECKSUMS === 'default'
      ? {}
      : { awsClientOptions: { requestChecksumCalculation: 'WHEN_REQUIRED' } }),
  },
};

const app = express();
app.use(express.json());
const { app: companionApp } = companion.app(options);
app.use(companionApp);

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`companion listening on http://127.0.0.1:${port}`);
});
// Node's defaults close a kept-alive connection after 5 s idle; wrk keeps its own busy.
server.keepAliveTimeout = 65_000;
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
