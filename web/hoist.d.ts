// Type declarations of hoist.js, the browser uploader for a hoist coordinator.
// Every export of hoist.js is declared here; a test compares the two lists.

/** One mebibyte, 1024 * 1024 bytes. */
export const MiB: number;

/** How `concurrency: 'auto'` moves: between `min` and `max` requests in flight. */
export interface AutoConcurrency {
  /** The limit to start with, and to go back to when a request takes `lowerAboveMs` or more [4]. */
  min: number;
  /** The limit when a request of a MiB or more finished within `raiseBelowMs` [6]. */
  max: number;
  /** A request of a MiB or more that answered within this many ms raises the limit to `max` [8000]. */
  raiseBelowMs: number;
  /** A request of a MiB or more that took this many ms or more lowers the limit to `min` [20000]. */
  lowerAboveMs: number;
}

/** Every default of the upload options, written once. */
export const DEFAULTS: Readonly<{
  concurrency: number | 'auto';
  autoConcurrency: Readonly<AutoConcurrency>;
  batchSize: number;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  stallTimeoutMs: number;
  maxResigns: number;
  hookRetries: number;
  hookRetryWaitMs: number;
  resume: boolean;
  unlessStoredMaxBytes: number;
}>;

/** What `upload().onStateChange` is told. */
export type UploadState =
  | 'starting'
  | 'uploading'
  | 'paused'
  | 'offline'
  | 'completing'
  | 'done'
  | 'error'
  | 'canceled';

/** A Storage-like object (localStorage's shape) where unfinished uploads are remembered. */
export interface ResumeStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface ProgressEvent {
  loaded: number;
  total: number;
  fraction: number;
  bytesPerSecond: number;
  secondsLeft: number | null;
  partsDone: number;
  partsTotal: number;
  state: UploadState;
}

export interface Warning {
  causeId: string;
  message: string;
}

export interface RetryEvent {
  part: number;
  reason: string | null;
  status: number;
  attempt: number;
  delayMs: number;
}

export interface ResumeEvent {
  partsStored: number;
  partsTotal: number;
}

export interface FailoverEvent {
  from: string;
  to: string;
  reason: string;
}

export interface HookPendingEvent {
  completes: number;
  delayMs: number | null;
}

/** Options both `upload` and `uploadMany` take. */
export interface CommonOptions {
  /** The coordinator's origin, or several replicas (an array or a comma-separated string). */
  endpoint?: string | string[];
  /** What remembered uploads are filed under in localStorage ['hoist']. */
  resumeScope?: string;
  /** API key or grant, sent as `Authorization: Bearer …`. */
  token?: string;
  /**
   * Requests to the store in flight at once (across all files of a queue), or 'auto': 4, and 6
   * while requests of a MiB or more finish within 8 s, back to 4 when one takes 20 s or more
   * ['auto'].
   */
  concurrency?: number | 'auto';
  /** The bounds and thresholds of `concurrency: 'auto'` (each one left out keeps its default). */
  autoConcurrency?: Partial<AutoConcurrency>;
  contentType?: string;
  metadata?: Record<string, string>;
  /** Never replace an object at the key (`if_none_match: "*"`). */
  noClobber?: boolean;
  /** Remember unfinished uploads to continue them after a reload [true]. */
  resume?: boolean;
  /** Used instead of localStorage; null: nothing is remembered. */
  storage?: ResumeStorage | null;
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  stallTimeoutMs?: number;
  maxResigns?: number;
  batchSize?: number;
  hookRetries?: number;
  hookRetryWaitMs?: number;
  onFailover?: (event: FailoverEvent) => void;
}

export interface UploadOptions extends CommonOptions {
  /** The object's key, for callers allowed to choose one. */
  key?: string;
  filename?: string;
  onProgress?: (event: ProgressEvent) => void;
  onStateChange?: (state: UploadState) => void;
  onError?: (error: HoistError) => void;
  onWarning?: (warning: Warning) => void;
  onRetry?: (event: RetryEvent) => void;
  onResume?: (event: ResumeEvent) => void;
  onHookPending?: (event: HookPendingEvent) => void;
}

/** What `upload().done` resolves with: the object as the store holds it. */
export interface UploadResult {
  bucket: string | null;
  key: string;
  etag: string | null;
  size: number;
  url?: string;
  hookPending?: boolean;
  /** Set when a queue did not send the file: it was stored already. */
  skipped?: true;
}

/** A running upload of one file. */
export interface Upload {
  readonly file: Blob;
  readonly state: UploadState;
  /** The coordinator's upload id (a token: keep it out of logs). */
  readonly id: string | null;
  readonly plan: { bucket: string; key: string; count: number; stored: Map<number, string | null> } | null;
  readonly resumedParts: number;
  readonly etagHidden: boolean;
  readonly warnings: Warning[];
  /** The coordinator talked to now. */
  readonly endpoint: string;
  readonly done: Promise<UploadResult>;
  pause(): void;
  resume(): void;
  cancel(): Promise<unknown>;
}

/** Starts uploading `file` and returns its handle. */
export function upload(file: Blob, options?: UploadOptions): Upload;

/** A remembered unfinished upload of one file. */
export interface RememberedUpload {
  id: string;
  bucket: string;
  key: string;
  strategy: 'multipart';
  part_size: number;
  part_count: number;
  size: number;
  expires_at: string;
  name: string;
  saved_at: string;
}

export interface FileOptions {
  resumeScope?: string;
  storage?: ResumeStorage | null;
  /** The file's path in a queue, which its record is filed under. */
  path?: string;
}

/** Forgets a remembered unfinished upload of `file` (it is not aborted on the store). */
export function forget(file: Blob, options?: FileOptions): void;

/** The remembered unfinished upload of `file`, or null. */
export function remembered(file: Blob, options?: FileOptions): RememberedUpload | null;

/** Unfinished uploads remembered under the resume scope. */
export function pending(options?: { resumeScope?: string; storage?: ResumeStorage | null }): Array<RememberedUpload & { lastModified: number }>;

// ---- many files ------------------------------------------------------------------------

/** A queue file's state. */
export type QueueFileState = 'queued' | 'uploading' | 'paused' | 'done' | 'failed' | 'cancelled' | 'skipped';

/** A file of a queue, with the path it keeps in the folder (`/`-separated). */
export interface QueueEntry {
  file: Blob;
  path?: string;
}

export interface QueueProgressEvent {
  /** Files stored: sent now or skipped as stored before. */
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second sent over the last few seconds. */
  rate: number;
  /** Files being sent now. */
  active: number;
  state: QueueState;
}

export type QueueState = 'running' | 'paused' | 'done' | 'cancelled';

/** Options of `uploadMany`. */
export interface QueueOptions extends CommonOptions {
  /** What the queue is remembered as [the top-level names of its paths]. */
  queueName?: string;
  /** Continuing a remembered folder, files up to this size are sent with their MD5 for the coordinator to skip the ones stored [64 MiB]. */
  unlessStoredMaxBytes?: number;
  onProgress?: (event: QueueProgressEvent) => void;
  onFileStart?: (file: QueueFile) => void;
  onFileDone?: (file: QueueFile) => void;
  onFileError?: (file: QueueFile, error: HoistError) => void;
  onWarning?: (warning: Warning & { path: string; file: QueueFile }) => void;
  onRetry?: (event: RetryEvent & { path: string; file: QueueFile }) => void;
  onResume?: (event: ResumeEvent & { path: string; file: QueueFile }) => void;
  onHookPending?: (event: HookPendingEvent & { path: string; file: QueueFile }) => void;
}

/** One file of a queue. */
export interface QueueFile {
  readonly index: number;
  readonly file: Blob;
  readonly path: string;
  readonly size: number;
  readonly state: QueueFileState;
  /** Bytes stored or on their way. */
  readonly progress: number;
  readonly result: UploadResult | null;
  readonly error: HoistError | null;
  /** The upload sending it now, or null. */
  readonly upload: Upload | null;
  pause(): void;
  resume(): void;
  cancel(): Promise<void>;
  /** Sends a failed or cancelled file again. */
  retry(): void;
}

export interface QueueSummary {
  uploaded: Array<UploadResult & { path: string }>;
  skipped: Array<UploadResult & { path: string }>;
  failed: Array<{ path: string; error: HoistError; causeId: string | null; message: string }>;
  cancelled: Array<{ path: string }>;
}

/** Several files uploaded under one folder, with one concurrency limit. */
export interface UploadQueue {
  readonly files: QueueFile[];
  readonly name: string;
  readonly state: QueueState;
  /** The folder token of the coordinator's batch route (keep it out of logs). */
  readonly folder: string | null;
  /** The key prefix the folder's files are under, when the coordinator says. */
  readonly prefix: string | null;
  /** Whether the coordinator has the batch routes: null until it answered. */
  readonly batch: boolean | null;
  readonly bytesTotal: number;
  /** The summary once every file has ended; after a retry, of the next round. */
  readonly done: Promise<QueueSummary>;
  pause(): void;
  resume(): void;
  cancel(): Promise<unknown>;
}

/** Starts uploading several files through one queue. */
export function uploadMany(files: Iterable<Blob | QueueEntry>, options?: QueueOptions): UploadQueue;

/** An interrupted queue remembered under the resume scope. */
export interface PendingQueue {
  name: string;
  files: number;
  filesDone: number;
  bytes: number;
  prefix: string | null;
  saved_at: string | null;
}

/** Interrupted queues remembered under the resume scope. */
export function pendingQueues(options?: { resumeScope?: string; storage?: ResumeStorage | null }): PendingQueue[];

// ---- errors, causes and helpers ----------------------------------------------------------

export interface HoistErrorFields {
  causeId?: string | null;
  status?: number;
  code?: string | null;
  retryable?: boolean;
  canceled?: boolean;
  detail?: unknown;
}

/** An error a person can act on; `causeId` names hoist doctor's cause when one applies. */
export class HoistError extends Error {
  constructor(message: string, fields?: HoistErrorFields);
  name: 'HoistError';
  causeId: string | null;
  status: number;
  code: string | null;
  retryable: boolean;
  canceled: boolean;
  detail: unknown;
}

/** A store answer as `classifyStore` reads it. */
export interface StoreAnswer {
  status: number;
  text?: string;
  reason?: string | null;
}

export interface StoreVerdict {
  kind: 'retry' | 'resign' | 'fatal' | 'aborted';
  status?: number;
  code?: string | null;
  causeId?: string | null;
  message?: string;
}

/** What to do about a store answer: retry, re-sign, or give up, with the cause id. */
export function classifyStore(res: StoreAnswer): StoreVerdict;

/** The catalogue's words for `causeId` (GET /v1/causes), `{origin}` filled in. */
export function describeCause(causeId: string, options?: { endpoint?: string | string[]; origin?: string }): Promise<string>;

/** MD5 (RFC 1321), fed in pieces. */
export class Md5 {
  constructor();
  update(bytes: Uint8Array): this;
  /** The digest in lower-case hex. */
  hex(): string;
}

/** The MD5 of a Blob in lower-case hex, read in slices. */
export function md5OfBlob(blob: Blob): Promise<string>;

/** Milliseconds to wait before retry number `attempt`: exponential, jittered, capped. */
export function backoffDelay(attempt: number, options?: { retryBaseMs?: number; retryMaxMs?: number }): number;

/** `text` with every secret (signatures, credentials, tokens, grants) shortened to six characters and `…`. */
export function redact(text: unknown): string;
