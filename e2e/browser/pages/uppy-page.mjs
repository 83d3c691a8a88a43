// The page script of the Uppy tests, bundled by esbuild once per Uppy generation (the 5.x
// bundle maps `@uppy/core` and `@uppy/aws-s3` onto their 5.x aliases). It wires Uppy to a hoist
// coordinator as a web app would and exposes one function to the test.

import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

window.uppyVersions = { core: Uppy.VERSION, awsS3: AwsS3.VERSION };
/** Every /s3/sign call the page made: the request Uppy asked to sign and the status. */
window.signCalls = [];

/** A `signRequest` for @uppy/aws-s3 6.x that asks hoist's `POST /s3/sign`. */
function hoistSigner(coordinator, headers) {
  return async (request) => {
    const res = await fetch(`${coordinator}/s3/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(request),
    });
    const body = await res.json();
    window.signCalls.push({ request, status: res.status });
    if (!res.ok) throw new Error(`/s3/sign answered ${res.status}: ${body.error}`);
    return body;
  };
}

/**
 * Adds `headers` to every `fetch` the page makes to the coordinator. @uppy/aws-s3 6.x in
 * `companionEndpoint` mode has no option for headers (its calls are bare `fetch`es with the
 * default `credentials: 'same-origin'`), so this is how a page hands it a grant.
 */
function authorizeCoordinatorFetches(coordinator, headers) {
  const original = window.fetch;
  window.fetch = (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url;
    if (url.startsWith(`${coordinator}/`)) {
      init = { ...init, headers: { ...(init.headers || {}), ...headers } };
    }
    return original(input, init);
  };
}

/**
 * Uploads the file picked in `#file` with Uppy. `mode` is `endpoint` (the 4.x/5.x Companion
 * routes), `sign` (6.x `signRequest` on `/s3/sign`) or `companion` (6.x `companionEndpoint`:
 * the Companion routes, with a single upload sent as an S3 POST form); files above
 * `multipartAbove` bytes go multipart.
 */
window.uploadWithUppy = async ({ coordinator, grant, mode, multipartAbove }) => {
  const file = document.getElementById('file').files[0];
  const headers = { authorization: `Bearer ${grant}` };
  const shouldUseMultipart = (f) => f.size > multipartAbove;
  const uppy = new Uppy({ autoProceed: false });
  if (mode === 'endpoint') {
    uppy.use(AwsS3, { endpoint: coordinator, headers, shouldUseMultipart });
  } else if (mode === 'companion') {
    authorizeCoordinatorFetches(coordinator, headers);
    uppy.use(AwsS3, { companionEndpoint: coordinator, shouldUseMultipart });
  } else if (mode === 'sign') {
    uppy.use(AwsS3, { signRequest: hoistSigner(coordinator, headers), shouldUseMultipart });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  uppy.addFile({ name: file.name, type: file.type, data: file, source: 'test' });
  const result = await uppy.upload();
  const describe = (f) => ({
    name: f.name,
    uploadURL: f.uploadURL ?? null,
    key: f.s3Multipart?.key ?? f.response?.body?.key ?? null,
    error: f.error ? String(f.error) : null,
  });
  return {
    successful: (result?.successful || []).map(describe),
    failed: (result?.failed || []).map(describe),
  };
};
