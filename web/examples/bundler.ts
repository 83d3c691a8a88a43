// hoist.js from a bundler: a folder chosen in an <input webkitdirectory> goes up as one queue.
//
//   npm install @hoist-rs/hoist-js
//   esbuild examples/bundler.ts --bundle --format=esm --outfile=upload.js

import { uploadMany, pendingQueues, HoistError, MiB, type QueueFile, type QueueSummary } from '@hoist-rs/hoist-js';

const endpoint = 'https://uploads.example.com';

/** The grant your backend mints for this user (a short-lived HS256 JWT). */
async function grant(): Promise<string> {
  const res = await fetch('/api/upload-grant', { method: 'POST' });
  if (!res.ok) throw new Error(`no grant: ${res.status}`);
  return res.text();
}

function describe(f: QueueFile): string {
  const pct = f.size ? Math.round((f.progress / f.size) * 100) : 100;
  return `${f.path}: ${f.state} ${pct}%`;
}

export async function uploadFolder(input: HTMLInputElement): Promise<QueueSummary> {
  const files = Array.from(input.files ?? []);
  const queue = uploadMany(
    files.map((file) => ({ file, path: file.webkitRelativePath || file.name })),
    {
      endpoint,
      token: await grant(),
      concurrency: 6,
      unlessStoredMaxBytes: 32 * MiB,
      onProgress: ({ filesDone, filesTotal, bytesDone, bytesTotal, rate }) => {
        console.log(`${filesDone}/${filesTotal} files, ${bytesDone}/${bytesTotal} bytes, ${Math.round(rate / MiB)} MiB/s`);
      },
      onFileError: (f: QueueFile, error: HoistError) => {
        console.warn(describe(f), error.causeId ?? '', error.message);
        if (error.retryable) f.retry();
      },
    },
  );
  const summary = await queue.done;
  for (const f of summary.failed) console.error(`${f.path} failed: ${f.message}`);
  console.log(`${summary.uploaded.length} sent, ${summary.skipped.length} already stored, under ${queue.prefix ?? '?'}`);
  return summary;
}

export function interrupted(): string[] {
  return pendingQueues().map((q) => `${q.name}: ${q.filesDone} of ${q.files} files stored`);
}
