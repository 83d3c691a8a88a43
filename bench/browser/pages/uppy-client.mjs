// Uppy with its defaults, bundled by esbuild once per generation: UPPY_GENERATION 5 maps
// `@uppy/core` and `@uppy/aws-s3` onto their 5.x aliases (the Companion routes through
// `endpoint`); 6 is 6.x with `signRequest` asking hoist's `POST /s3/sign`, as hoist's README
// shows. Nothing but the one option each mode needs is set.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

/* global UPPY_GENERATION */
const generation = UPPY_GENERATION;
window.clientInfo = { name: `uppy${generation}`, core: Uppy.VERSION, awsS3: AwsS3.VERSION };
window.signCalls = 0;

function hoistSigner(coordinator) {
  return async (request) => {
    window.signCalls += 1;
    const res = await fetch(`${coordinator}/s3/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (!res.ok) throw new Error(`/s3/sign answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
}

window.benchUpload = async ({ coordinator }) => {
  const file = document.getElementById('file').files[0];
  const bar = document.getElementById('bar');
  const uppy = new Uppy();
  if (generation === 5) uppy.use(AwsS3, { endpoint: coordinator });
  else uppy.use(AwsS3, { signRequest: hoistSigner(coordinator) });
  uppy.on('upload-progress', (_f, p) => {
    if (p.bytesTotal) bar.value = p.bytesUploaded / p.bytesTotal;
  });
  const t0 = performance.now();
  uppy.addFile({ name: file.name, type: file.type, data: file, source: 'bench' });
  const result = await uppy.upload();
  const t1 = performance.now();
  const failed = result?.failed || [];
  if (failed.length) throw new Error(`Uppy failed: ${failed.map((f) => String(f.error)).join('; ')}`);
  const f = result.successful[0];
  const key = f.s3Multipart?.key ?? f.response?.body?.key ?? null;
  return { t0, t1, key, location: f.uploadURL ?? f.response?.body?.location ?? null, size: f.size };
};
