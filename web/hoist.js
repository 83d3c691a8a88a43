// hoist.js: the browser uploader for a hoist coordinator. A dependency-free ES module.
//
//   import { upload } from '/hoist.js';
//   const u = upload(file, { endpoint, token, concurrency: 4, onProgress, onError });
//   u.pause(); u.resume(); u.cancel();
//   const { bucket, key, etag, size, hookPending } = await u.done;
//
//   import { uploadMany } from '/hoist.js';
//   const q = uploadMany(input.files, { endpoint, token, concurrency: 6, onProgress, onFileDone });
//   q.files[0].cancel(); q.files[0].retry(); q.pause(); q.resume(); q.cancel();
//   const { uploaded, skipped, failed, cancelled } = await q.done;
//
// A queue (uploadMany) runs every file through the same code as upload(), with one concurrency
// limit for all of them; files are created with POST /v1/uploads/batch under one folder, and
// options are upload()'s plus onProgress({filesDone, filesTotal, bytesDone, bytesTotal, rate,
// active}), onFileStart(file), onFileDone(file), onFileError(file, error), unlessStoredMaxBytes.
//
// The bytes go straight from the browser to the store on presigned URLs; the coordinator
// only plans, signs, completes and aborts. Every part is a `File.slice`, so memory stays
// bounded whatever the file size, and XHR is used because fetch cannot report upload progress.
//
// Options (all optional):
//   endpoint       the coordinator's origin [the page's origin]; or several replicas sharing a
//                  token secret (an array, or a comma-separated string): the first is used until
//                  it stops answering (network error, timeout, 5xx), then the next, with the same
//                  upload
//   resumeScope    what remembered uploads are filed under in localStorage, beside the file's
//                  name, size and time ['hoist']: not the endpoint, so a reloaded page continues
//                  through any replica
//   token          API key or grant, sent as `Authorization: Bearer …` [anonymous]
//   concurrency    requests to the store in flight at once, or 'auto': 4, and 6 while requests
//                  of a MiB or more finish within 8 s, back to 4 when one takes 20 s or more
//                  (autoConcurrency) ['auto']
//   key, filename, contentType, metadata   passed to POST /v1/uploads
//   noClobber      never replace an object at the key (if_none_match "*"): the upload fails
//                  with causeId already-exists when one is there [false]. A PUT refused by an
//                  object that is this file (same size, ETag = the file's MD5: an earlier
//                  try landed and its answer was lost) ends done.
//   resume         remember the upload in localStorage to resume it after a reload [true]
//   storage        a Storage-like object to use instead of localStorage (null: no resume)
//   maxRetries, retryBaseMs, retryMaxMs, stallTimeoutMs, maxResigns, batchSize,
//   hookRetries, hookRetryWaitMs   see DEFAULTS
//   onProgress({loaded, total, fraction, bytesPerSecond, secondsLeft, partsDone, partsTotal, state})
//   onStateChange(state)   starting | uploading | paused | offline | completing | done | error | canceled
//   onError(HoistError)    the upload stopped: `message` in plain words, `causeId` from the
//                          doctor's catalogue when one applies, `retryable` when picking the
//                          same file again continues where it stopped
//   onWarning({causeId, message})   e.g. cors-etag-hidden: it still completes, but fix the setup
//   onRetry({part, reason, status, attempt, delayMs})   reason invalid_part: a part taken over
//                   on resume that the Complete refused, sent again
//   onResume({partsStored, partsTotal})
//   onFailover({from, to, reason})   a coordinator stopped answering; the upload goes on at `to`
//   onHookPending({completes, delayMs})   stored, but the coordinator's application not yet
//                          told; delayMs null: no repeat left (result.hookPending is true)
//
// One file on purpose: the coordinator serves it as /hoist.js, with no build step; web/ is also
// the npm package @hoist-rs/hoist-js, declared in hoist.d.ts.
//
// What a cause means and how to fix it is written once, in the coordinator's catalogue
// (GET /v1/causes): hoist.js decides which cause an answer shows and reads the words from
// there, once per page, when it first has one to tell. Which bytes each part holds is the
// coordinator's plan too: every part URL comes with its offset and length.

const MiB = 1024 * 1024;

/** Every default, written once. */
export const DEFAULTS = Object.freeze({
  // 'auto': the limit moves between min and max by how long the requests of a MiB or more
  // take. Against a distant store each part waits a round trip for its CORS preflight and
  // another for its answer, so six in flight (the most a browser opens to one host over
  // HTTP/1.1) send faster; on a slow link six parts share it and each takes longer, so a part
  // cut off loses more and a flaky link may end no part at all: four there.
  concurrency: 'auto',
  autoConcurrency: Object.freeze({ min: 4, max: 6, raiseBelowMs: 8_000, lowerAboveMs: 20_000 }),
  // Part URLs are asked for just in time, this many at most per call.
  batchSize: 4,
  // Transient failures (network, timeout, 5xx, SlowDown) per part before giving up. Time
  // spent offline or paused does not count.
  maxRetries: 10,
  retryBaseMs: 400,
  retryMaxMs: 20_000,
  // No byte moved for this long: the request is stuck, abort and retry it.
  stallTimeoutMs: 60_000,
  // An expired URL is re-signed and retried; this bounds the loop when a clock is wrong.
  maxResigns: 6,
  // The coordinator stored the object but could not yet tell its application
  // (hook_pending): Complete is sent again this many times, 4, 8, 16 s apart, each one
  // delivering the event again. The upload succeeds either way; `hookPending` says which.
  hookRetries: 3,
  hookRetryWaitMs: 4_000,
  resume: true,
  // uploadMany, continuing a remembered folder: files up to this size are sent with their MD5,
  // and the coordinator skips the ones stored already.
  unlessStoredMaxBytes: 64 * MiB,
});

const STORAGE_PREFIX = 'hoist:upload:';
// A Complete's refusals of its parts: the store's (`invalid_part`), and the coordinator's own
// from the listing it checks first.
const REFUSED_PARTS = new Set(['invalid_part', 'etag_mismatch', 'parts_missing']);
// Consecutive zero-byte connection failures, before anything was stored, that mean "CORS".
const BLIND_FAILURES_MEAN_CORS = 4;

/**
 * An error a person can act on. `causeId` is the id from hoist doctor's catalogue
 * (`url-expired`, `cors-preflight`, `clock-skew`, …) when one applies, else null.
 */
export class HoistError extends Error {
  constructor(message, { causeId = null, status = 0, code = null, retryable = false, canceled = false, detail = null } = {}) {
    super(message);
    this.name = 'HoistError';
    this.causeId = causeId;
    this.status = status;
    this.code = code;
    this.retryable = retryable;
    this.canceled = canceled;
    this.detail = detail;
  }
}

/** Starts uploading `file` (a File or Blob) and returns its handle. */
export function upload(file, options = {}) {
  return new Upload(file, options);
}

/**
 * Forgets any remembered unfinished upload of `file` (it is not aborted on the store).
 * `options.path`: the file's path in a queue (`uploadMany`), which its record is filed under.
 */
export function forget(file, options = {}) {
  const store = storage(options);
  if (store) store.removeItem(resumeKey(file, scopeOf(options), options.path ?? file.name));
}

/** The remembered unfinished upload of `file` (of `options.path` in a queue), or null. */
export function remembered(file, options = {}) {
  const store = storage(options);
  if (!store) return null;
  try {
    return JSON.parse(store.getItem(resumeKey(file, scopeOf(options), options.path ?? file.name)) || 'null');
  } catch {
    return null;
  }
}

/** Unfinished uploads remembered under this resume scope: [{name, size, saved_at, …}]. */
export function pending(options = {}) {
  const found = [];
  for (const { id, record } of rememberedUnder(STORAGE_PREFIX, options)) {
    // The coordinator no longer accepts an expired upload id: nothing is left to resume.
    const expires = parseTime(record.expires_at);
    if (expires && expires < Date.now()) continue;
    found.push({ ...record, name: id[1], size: id[2], lastModified: id[3] });
  }
  return found;
}

/** The records kept in localStorage under `prefix` for this resume scope: [{id, record}]. */
function* rememberedUnder(prefix, options) {
  const store = storage(options);
  if (!store) return;
  const scope = scopeOf(options);
  for (let i = 0; i < store.length; i++) {
    const k = store.key(i);
    if (!k || !k.startsWith(prefix)) continue;
    const id = safeParse(k.slice(prefix.length));
    const record = safeParse(store.getItem(k));
    if (Array.isArray(id) && id[0] === scope && record) yield { id, record };
  }
}

class Upload {
  /**
   * `internal` is how a queue runs its files through the same code: `coordinator` and `slots`
   * shared by all of them, `created` (the upload a batch create answered), `create(body, upload)`
   * (how a new upload of this file is made), `confirm(id, upload)` (a single PUT's Complete),
   * `resumeName` (what the resume record is filed under instead of the file's name), `slot`
   * (the release of a slot the queue took for this file's first request) and `keepsResume`
   * (the resume record stays after the Complete: the queue forgets it once its own record
   * names the file done, so that a reload in between finds one or the other).
   */
  constructor(file, options, internal = {}) {
    if (!file || typeof file.size !== 'number' || typeof file.slice !== 'function') {
      throw new TypeError('upload(file): file must be a File or a Blob');
    }
    this.file = file;
    // An option given as undefined means "the default", not "none".
    this.options = { ...DEFAULTS };
    for (const [name, value] of Object.entries(options)) if (value !== undefined) this.options[name] = value;
    // The coordinator replicas (shared by every upload of a queue) and the slots every request
    // to the store takes (shared likewise: one concurrency limit across a queue).
    this._coord = internal.coordinator || new Coordinator(this.options);
    this._slots = internal.slots || new Slots(this.options.concurrency, this.options.autoConcurrency);
    this._internal = internal;
    this.state = 'starting';
    this.id = null;
    this.plan = null;
    this.resumedParts = 0;
    this._sentAgain = false; // parts refused by a Complete were sent again (once at most)
    this.etagHidden = false;
    this.warnings = [];
    this._paused = false;
    this._pauseWaiters = [];
    this._canceled = false;
    this._failure = null; // the first fatal error of any part; stops the others
    this._inflight = new Set(); // live XHRs and fetch controllers
    this._urls = new Map(); // part number -> {url, headers, expiresAt, offset, length}
    this._signing = new Map(); // part number -> promise of a batch being signed
    this._warned = new Set(); // cause ids already warned of
    this._warningsTold = Promise.resolve(); // warnings whose words are being fetched
    this._progress = new Progress(file.size);
    this._handedSlot = internal.slot || null;
    this.done = this._run().then(
      (result) => {
        this._releaseHandedSlot();
        this._setState('done');
        return result;
      },
      (err) => {
        this._releaseHandedSlot();
        this._slots.drop(this);
        const error = err instanceof HoistError ? err : new HoistError(redact(String(err && err.message || err)));
        this._setState(error.canceled ? 'canceled' : 'error');
        if (!error.canceled) this.options.onError?.(error);
        throw error;
      },
    );
    // A caller that only uses onError must not see an unhandled rejection.
    this.done.catch(() => {});
  }

  /** Stops sending; parts in flight are aborted and will be sent again on resume(). */
  pause() {
    if (this._paused || this._finished()) return;
    this._paused = true;
    this._abortInflight('pause');
    this._setState('paused');
  }

  resume() {
    if (!this._paused || this._finished()) return;
    this._paused = false;
    this._setState('uploading');
    for (const wake of this._pauseWaiters.splice(0)) wake();
  }

  /** Stops for good and aborts the multipart upload so no parts are left on the store. */
  cancel() {
    if (this._finished()) return this.done.catch(() => {});
    this._canceled = true;
    this._abortInflight('cancel');
    for (const wake of this._pauseWaiters.splice(0)) wake();
    return this.done.catch(() => {});
  }

  _finished() {
    return this._canceled || ['done', 'error', 'canceled'].includes(this.state);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange?.(state);
  }

  /** Warns once per cause, in the catalogue's words; the upload ends only after it is told. */
  _warn(causeId) {
    if (this._warned.has(causeId)) return;
    this._warned.add(causeId);
    const told = describeCause(causeId, { endpoint: this.endpoint }).then((message) => {
      const warning = { causeId, message };
      this.warnings.push(warning);
      this.options.onWarning?.(warning);
    });
    this._warningsTold = Promise.all([this._warningsTold, told]);
  }

  /** An error for `causeId`: what happened here (`evidence`), then the catalogue's words. */
  async _causeError(causeId, evidence, fields = {}) {
    const words = await describeCause(causeId, { endpoint: this.endpoint });
    return new HoistError(`${evidence} ${words}`, { ...fields, causeId });
  }

  _abortInflight(reason) {
    for (const req of this._inflight) req.abort(reason);
    this._inflight.clear();
    // Nothing waits for a slot it would not use; a slot the queue handed over goes back.
    this._slots.drop(this);
    this._releaseHandedSlot();
  }

  _releaseHandedSlot() {
    const release = this._handedSlot;
    this._handedSlot = null;
    release?.();
  }

  _checkCanceled() {
    if (this._canceled) throw new HoistError('The upload was canceled.', { canceled: true });
  }

  /** Resolves when neither paused nor offline; throws if canceled meanwhile. */
  async _ready() {
    for (;;) {
      this._checkCanceled();
      if (this._failure) throw this._failure;
      if (this._paused) {
        await new Promise((resolve) => this._pauseWaiters.push(resolve));
        continue;
      }
      if (isOffline()) {
        const previous = this.state;
        this._setState('offline');
        await waitOnline(() => this._canceled || this._paused);
        if (this.state === 'offline') this._setState(previous === 'offline' ? 'uploading' : previous);
        continue;
      }
      return;
    }
  }

  _emitProgress() {
    const p = this._progress.snapshot();
    const plan = this.plan;
    this.options.onProgress?.({
      ...p,
      partsDone: plan ? plan.stored.size : 0,
      partsTotal: plan ? plan.count : 0,
      state: this.state,
    });
  }

  async _run() {
    try {
      await this._ready();
      const created = await this._createOrResume();
      this._checkCanceled();
      this._setState(this._paused ? 'paused' : 'uploading');
      let result;
      if (created.strategy === 'single') result = await this._single(created);
      else if (created.strategy === 'completed') result = await this._complete();
      else result = await this._multipart();
      await this._warningsTold;
      return result;
    } catch (err) {
      if (!this._canceled) throw err;
      // Canceled at any point, even while the upload was being created: nothing may be left.
      if (this.plan) await this._abort();
      else this._forgetResume();
      throw new HoistError('The upload was canceled.', { canceled: true });
    }
  }

  // ---- creating and resuming ----------------------------------------------------------

  async _createOrResume() {
    const store = this.options.resume ? storage(this.options) : null;
    const key = this._resumeKey();
    const saved = store && safeParse(store.getItem(key));
    const preset = this._internal.created;
    this._internal.created = null;
    if (!preset && saved && saved.strategy === 'multipart' && saved.id) {
      const state = await this._api('GET', `/v1/uploads/${encodeURIComponent(saved.id)}`).catch((err) => {
        if (err.canceled) throw err;
        // Expired, aborted, completed or foreign: start afresh rather than fail.
        if (err.status >= 400 && err.status < 500) return null;
        throw err;
      });
      if (state && state.state === 'completed' && planMatches(state, saved, this.file.size)) {
        // Completed before this page heard so: the reload came while the Complete was on its
        // way. The coordinator answers a repeated Complete with the object; nothing is sent.
        this.id = saved.id;
        this._usePlan({ ...saved, ...state }, []);
        // A no-clobber upload's record names every part's ETag (kept just before its
        // Complete): the coordinator proves from them that the object there is this upload's.
        if (Array.isArray(saved.etags) && saved.etags.length === this.plan.count) {
          saved.etags.forEach((etag, i) => {
            if (typeof etag === 'string' && etag) this.plan.etags.set(i + 1, etag);
          });
        }
        this._progress.confirm(this.file.size);
        this.resumedParts = this.plan.count;
        this.options.onResume?.({ partsStored: this.plan.count, partsTotal: this.plan.count });
        return { strategy: 'completed' };
      }
      const live = state && state.state !== 'completed';
      if (live && planMatches(state, saved, this.file.size)) {
        this.id = saved.id;
        this._usePlan({ ...saved, ...state }, state.parts || []);
        this.resumedParts = this.plan.stored.size;
        this.options.onResume?.({ partsStored: this.resumedParts, partsTotal: this.plan.count });
        return { strategy: 'multipart' };
      }
      store.removeItem(key);
    }
    const body = { size: this.file.size };
    const name = this.options.filename ?? this.file.name;
    if (name) body.filename = name;
    if (this.options.key) body.key = this.options.key;
    const type = this.options.contentType ?? this.file.type;
    if (type) body.content_type = type;
    if (this.options.metadata) body.metadata = this.options.metadata;
    if (this.options.noClobber) body.if_none_match = '*';
    this._createBody = body;
    const created = preset || (await this._create());
    this.id = created.id;
    if (created.strategy === 'single') {
      this.single = created;
      return created;
    }
    this._usePlan(created, []);
    for (const part of created.parts || []) this._rememberUrl(part);
    if (store) rememberMultipart(store, key, created, this.file, this._resumeName());
    return created;
  }

  /** A new upload of this file: the queue's way (its batch route, its folder) or POST /v1/uploads. */
  _create() {
    if (this._internal.create) return this._internal.create(this._createBody, this);
    return this._api('POST', '/v1/uploads', this._createBody);
  }

  _resumeName() {
    return this._internal.resumeName ?? this.file.name ?? '';
  }

  /** Where this upload's resume record is kept in storage. */
  _resumeKey() {
    return resumeKey(this.file, scopeOf(this.options), this._resumeName());
  }

  _usePlan(info, storedParts) {
    const count = Number(info.part_count);
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new HoistError('The coordinator answered with an unusable plan (no part count).', { detail: info });
    }
    // The coordinator lists as missing every part not stored with its planned length; the
    // others are kept. Without that list nothing stored is trusted: it is all sent again.
    const missing = Array.isArray(info.missing) ? new Set(info.missing.map(Number)) : null;
    const stored = new Map();
    let storedBytes = 0;
    // Every stored part's length; those stored before this session are the ones taken over.
    this._lengths = new Map();
    for (const p of missing ? storedParts : []) {
      const { number, etag, length } = storedPart(p);
      if (number >= 1 && number <= count && !missing.has(number) && !stored.has(number)) {
        stored.set(number, etag || null);
        storedBytes += length;
        this._lengths.set(number, length);
      }
    }
    this._takenOver = new Set(stored.keys());
    this.plan = { bucket: info.bucket, key: info.key, count, stored, etags: new Map(stored) };
    this._progress.confirm(storedBytes);
  }

  // ---- the single PUT -------------------------------------------------------------------

  async _single(created) {
    let target = { url: created.url, method: created.method || 'PUT', headers: created.headers || {}, expiresAt: parseTime(created.url_expires_at) };
    let attempts = 0;
    let resigns = 0;
    for (;;) {
      await this._ready();
      const res = await this._send(target.method, target.url, target.headers, this.file, 0);
      if (res.ok) {
        this._progress.settle(0, this.file.size);
        this._emitProgress();
        const etag = stripQuotes(res.etag);
        if (!etag) this._noteEtagHidden();
        this._setState('completing');
        const confirm = () =>
          this._confirmSingle().catch((err) => {
            // Coordinators that treat the single PUT as final have no complete step to call.
            if (err.status === 404 || err.status === 405) return null;
            throw err;
          });
        const done = await this._whileHookPending(await confirm(), confirm);
        return finalResult(done, { bucket: created.bucket, key: created.key, etag, size: this.file.size }, this.file.size);
      }
      this._progress.settle(0, 0);
      const verdict = classifyStore(res);
      if (verdict.kind === 'aborted') continue;
      // A try that failed without a definite answer (cut, timed out, 5xx) may still have
      // stored the file, and so may a request the browser itself sent again after a
      // connection closed without an answer, unseen by this script: a no-clobber PUT can be
      // refused by this upload's own object even on its first visible try.
      if (verdict.causeId === 'already-exists') {
        const { done, why } = await this._landedBefore(created);
        if (done) return done;
        verdict.message = `${verdict.message} ${why}`;
      }
      if (verdict.kind === 'resign' && resigns < this.options.maxResigns) {
        resigns += 1;
        await this._resignPause(resigns, verdict, 0);
        target = await this._resignSingle();
        continue;
      }
      if (verdict.kind === 'retry' && this._blindFailuresMeanCors(res)) throw await this._corsRefused('the file');
      if (verdict.kind === 'retry' && attempts < this.options.maxRetries) {
        attempts += 1;
        if (res.status === 0 && isOffline()) attempts -= 1;
        await this._backoff(attempts, verdict);
        // An expired URL is signed again; so is one whose store answered nothing twice, since
        // the coordinator may sign for another node of the store by now.
        const expired = target.expiresAt && Date.now() + this._coord.clockOffsetMs > target.expiresAt - 1000;
        if (expired || (res.status === 0 && attempts >= 2 && !isOffline())) target = await this._resignSingle();
        continue;
      }
      throw await this._storeError(verdict, res, attempts);
    }
  }

  /**
   * A no-clobber PUT refused (412) after an earlier try that may have landed: the object at
   * the key is this upload's when it is the file (size, and the ETag S3 gives a single PUT:
   * the file's MD5), and the upload is then done (`{done}`). Otherwise (another writer's
   * object, or nothing that can be compared) `{why}`, and the refusal stands.
   */
  async _landedBefore(created) {
    const done = await this._api('POST', `/v1/uploads/${encodeURIComponent(this.id)}/complete`).catch((err) => {
      if (err.canceled) throw err;
      return null;
    });
    const stored = stripQuotes(done && done.etag);
    if (!done) return { why: 'The coordinator confirmed no object of the file\'s size at the key.' };
    if (Number(done.size) !== this.file.size) {
      return { why: `The object at the key is not this upload's: it has ${done.size} bytes, the file ${this.file.size}.` };
    }
    if (!/^[0-9a-f]{32}$/i.test(stored || '')) {
      return { why: `The object at the key cannot be compared with the file: its ETag ${stored} is not an MD5.` };
    }
    const md5 = await md5OfBlob(this.file);
    if (md5 !== stored.toLowerCase()) {
      return { why: `The object at the key is not this upload's: its ETag is ${stored}, the file's MD5 ${md5}.` };
    }
    this._progress.settle(0, this.file.size);
    this._emitProgress();
    const result = finalResult(done, { bucket: created.bucket, key: created.key, etag: stored, size: this.file.size }, this.file.size);
    return { done: result };
  }

  /** A single PUT's Complete: the queue's (gathered into batch completes) or this upload's own. */
  _confirmSingle() {
    if (this._internal.confirm) return this._internal.confirm(this.id, this);
    return this._api('POST', `/v1/uploads/${encodeURIComponent(this.id)}/complete`);
  }

  async _resignSingle() {
    // A single-PUT upload has nothing stored until its PUT succeeds, so an expired URL is
    // replaced by creating the upload again.
    const created = await this._create();
    this.id = created.id;
    this.single = created;
    return { url: created.url, method: created.method || 'PUT', headers: created.headers || {}, expiresAt: parseTime(created.url_expires_at) };
  }

  // ---- multipart ------------------------------------------------------------------------

  async _multipart() {
    const queue = [];
    for (let n = 1; n <= this.plan.count; n++) if (!this.plan.stored.has(n)) queue.push(n);
    await this._sendParts(queue);
    try {
      return await this._complete();
    } catch (err) {
      const again = await this._refusedParts(err);
      if (!again) throw err;
      this._setState('uploading');
      await this._sendParts(again);
      return this._complete();
    }
  }

  /** Sends the parts `queue` names with a worker per slot there may be; throws the first failure. */
  async _sendParts(queue) {
    this._queue = queue;
    this._emitProgress();
    const worker = async () => {
      while (!this._failure && queue.length) {
        const number = queue.shift();
        try {
          await this._part(number);
        } catch (err) {
          if (!this._failure) {
            this._failure = err;
            // The others stop at once; what they were sending is not needed any more.
            this._abortInflight('failure');
          }
        }
      }
    };
    // Counted before the first worker starts: each takes a part from the queue at once.
    const count = Math.min(this._slots.max, queue.length || 1);
    const workers = [];
    for (let i = 0; i < count; i++) workers.push(worker());
    await Promise.all(workers);
    const failure = this._failure;
    this._checkCanceled();
    if (failure) {
      // A fatal error keeps the stored parts (and the resume record) so that a later try,
      // after the cause is fixed, sends only what is missing.
      throw failure;
    }
  }

  /**
   * After a Complete refused parts the store had listed as stored (another writer replaced
   * one, or the store never finished committing a part that a reload cut off, which Garage
   * lists all the same), when parts were taken over from an earlier session: the parts to
   * send again, once. Those the store now lists with another ETag or not at all; when every
   * one matches, all those taken over, since no record says which of them the earlier
   * session saw stored. null: nothing to try, the refusal stands.
   */
  async _refusedParts(err) {
    if (!REFUSED_PARTS.has(err.code) || this._sentAgain || !this._takenOver.size) return null;
    this._sentAgain = true;
    const state = await this._api('GET', `/v1/uploads/${encodeURIComponent(this.id)}`).catch(() => null);
    if (!state) return null;
    const listed = new Map();
    for (const p of state.parts || []) {
      const { number, etag } = storedPart(p);
      listed.set(number, etag);
    }
    let again = [];
    for (const [n, etag] of this.plan.etags) if (etag && listed.get(n) !== etag) again.push(n);
    if (!again.length) again = [...this._takenOver];
    again.sort((a, b) => a - b);
    for (const n of again) {
      this.plan.stored.delete(n);
      this.plan.etags.delete(n);
      this._progress.confirm(-(this._lengths.get(n) || 0));
      this.options.onRetry?.({ part: n, reason: 'invalid_part', status: err.status, attempt: 1, delayMs: 0 });
    }
    this._emitProgress();
    return again;
  }

  async _part(number) {
    let attempts = 0;
    let resigns = 0;
    let fresh = false;
    for (;;) {
      await this._ready();
      const target = await this._partUrl(number, fresh);
      await this._ready();
      // The bytes are the range the coordinator planned and sent with the URL.
      const body = this.file.slice(target.offset, target.offset + target.length);
      const res = await this._send('PUT', target.url, target.headers, body, number);
      if (res.ok) {
        this._progress.settle(number, target.length);
        const etag = stripQuotes(res.etag);
        if (!etag) this._noteEtagHidden();
        this.plan.stored.set(number, etag || null);
        this.plan.etags.set(number, etag || null);
        this._lengths.set(number, target.length);
        this._urls.delete(number);
        this._emitProgress();
        return;
      }
      this._progress.settle(number, 0);
      this._emitProgress();
      const verdict = classifyStore(res);
      if (verdict.kind === 'aborted') {
        this._checkCanceled();
        fresh = false;
        continue; // paused: send it again on resume, this try does not count
      }
      if (verdict.kind === 'resign' && resigns < this.options.maxResigns) {
        resigns += 1;
        await this._resignPause(resigns, verdict, number);
        fresh = true;
        continue;
      }
      if (verdict.kind === 'retry' && this._blindFailuresMeanCors(res)) throw await this._corsRefused(`part ${number}`);
      if (verdict.kind === 'retry' && attempts < this.options.maxRetries) {
        // A browser that went offline did not fail the part; it only waits.
        if (!(res.status === 0 && isOffline())) attempts += 1;
        await this._backoff(attempts, verdict, number);
        // A retry always gets a freshly signed URL: the old one may have expired meanwhile.
        fresh = true;
        continue;
      }
      throw await this._storeError(verdict, res, attempts, number);
    }
  }

  _noteEtagHidden() {
    if (this.etagHidden) return;
    this.etagHidden = true;
    this._warn('cors-etag-hidden');
  }

  /** A usable URL for `number`: cached when still valid, else signed now with a small batch. */
  async _partUrl(number, fresh) {
    const cached = this._urls.get(number);
    const now = Date.now() + this._coord.clockOffsetMs;
    if (!fresh && cached && (!cached.expiresAt || cached.expiresAt - now > 1000)) return cached;
    this._urls.delete(number);
    let pending = this._signing.get(number);
    if (!pending) {
      // Sign this part and the next few queued ones that have no valid URL, in one call.
      const numbers = [number];
      for (const n of this._queue || []) {
        if (numbers.length >= this.options.batchSize) break;
        const c = this._urls.get(n);
        if (!this._signing.has(n) && !(c && (!c.expiresAt || c.expiresAt - now > 1000))) numbers.push(n);
      }
      pending = this._api('POST', `/v1/uploads/${encodeURIComponent(this.id)}/parts`, { numbers }).then((answer) => {
        for (const part of answer.parts || answer.urls || []) this._rememberUrl(part);
      });
      for (const n of numbers) this._signing.set(n, pending);
      pending.finally(() => {
        for (const n of numbers) if (this._signing.get(n) === pending) this._signing.delete(n);
      }).catch(() => {});
    }
    await pending;
    const url = this._urls.get(number);
    if (!url) throw new HoistError(`The coordinator did not sign a URL for part ${number}.`);
    return url;
  }

  _rememberUrl(part) {
    const number = Number(part.number ?? part.part_number);
    if (!number || !part.url) return;
    const offset = Number(part.offset);
    const length = Number(part.length);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new HoistError(`The coordinator signed part ${number} without its byte range (offset and length).`, { detail: part });
    }
    this._urls.set(number, { url: part.url, headers: part.headers || {}, expiresAt: parseTime(part.expires_at), offset, length });
  }

  async _complete() {
    this._setState('completing');
    const parts = [];
    const etags = [];
    let all = true;
    for (let n = 1; n <= this.plan.count; n++) {
      const etag = this.plan.etags.get(n);
      if (etag) {
        parts.push({ number: n, etag: `"${etag}"` });
        etags.push(etag);
      } else all = false;
    }
    // Without every ETag (CORS hides them, or parts came from an earlier session) the
    // coordinator reads them all from the store with ListParts.
    const body = all ? { parts } : {};
    // Once the Complete is on its way, the store may end the upload before this page hears
    // so (a reload, a lost answer): a no-clobber upload then needs its parts' ETags to show
    // the object stored is its own, so its resume record keeps them from now on.
    if (all && this.options.noClobber) this._keepEtags(etags);
    const complete = () => this._api('POST', `/v1/uploads/${encodeURIComponent(this.id)}/complete`, body);
    const done = await this._whileHookPending(await complete(), complete);
    const result = finalResult(done, { bucket: this.plan.bucket, key: this.plan.key, etag: null, size: this.file.size }, this.file.size);
    if (!this._internal.keepsResume) this._forgetResume();
    return result;
  }

  /**
   * Sends Complete again, `hookRetries` times at most and `hookRetryWaitMs` doubling apart,
   * while the coordinator answers that its application was not yet told (`hook_pending`):
   * each repeat delivers the event again. The object is stored already, so a repeat that
   * fails only leaves the event pending; the last answer is returned either way.
   */
  async _whileHookPending(answer, again) {
    let completes = 1;
    let last = answer;
    while (last && last.hook_pending === true) {
      const delayMs = completes <= this.options.hookRetries ? this.options.hookRetryWaitMs * 2 ** (completes - 1) : null;
      if (this.options.onHookPending) this.options.onHookPending({ completes, delayMs });
      if (delayMs == null) break;
      await sleep(delayMs);
      completes += 1;
      try {
        const next = await again();
        // A coordinator that no longer says has not said the event was delivered.
        last = next ? { ...next, hook_pending: next.hook_pending !== false } : last;
      } catch {
        // Still pending: the object is stored, and the answer we have describes it.
      }
    }
    return last;
  }

  /** Adds the parts' ETags to this upload's resume record, if it has one. */
  _keepEtags(etags) {
    const store = this.options.resume ? storage(this.options) : null;
    if (!store) return;
    const key = this._resumeKey();
    const saved = safeParse(store.getItem(key));
    if (!saved || saved.id !== this.id) return;
    try {
      store.setItem(key, JSON.stringify({ ...saved, etags }));
    } catch {
      // A full or disabled localStorage only loses the proof after a reload, not the upload.
    }
  }

  _forgetResume() {
    const store = storage(this.options);
    if (store) store.removeItem(this._resumeKey());
  }

  async _abort() {
    this._forgetResume();
    if (!this.id) return;
    // The abort must happen even though the upload is canceled, so it bypasses _checkCanceled.
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await this._fetchJson('DELETE', `/v1/uploads/${encodeURIComponent(this.id)}`);
        return;
      } catch (err) {
        if (err.status >= 400 && err.status < 500) return;
        await sleep(backoffDelay(attempt + 1, this.options));
      }
    }
  }

  // ---- sending bytes ----------------------------------------------------------------------

  /**
   * PUTs `body` with XHR once a slot is free (the concurrency limit, one across a queue);
   * resolves (never rejects) with {ok, status, etag, text, reason}.
   */
  async _send(method, url, headers, body, number) {
    let release = this._handedSlot;
    this._handedSlot = null;
    if (!release) release = await this._slots.acquire(this);
    if (!release || this._canceled || this._paused || this._failure) {
      release?.();
      const reason = this._canceled ? 'cancel' : this._failure ? 'failure' : 'pause';
      return { ok: false, status: 0, etag: null, text: '', reason, sentAny: false };
    }
    try {
      const started = performance.now();
      const result = await this._xhr(method, url, headers, body, number);
      if (result.ok) this._slots.observe(body?.size ?? 0, performance.now() - started);
      return result;
    } finally {
      release();
    }
  }

  _xhr(method, url, headers, body, number) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      let reason = null;
      let stallTimer = 0;
      const entry = {
        abort: (why) => {
          reason = why;
          xhr.abort();
        },
      };
      const finish = (result) => {
        clearTimeout(stallTimer);
        this._inflight.delete(entry);
        resolve(result);
      };
      const armStall = () => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
          reason = 'stall';
          xhr.abort();
        }, this.options.stallTimeoutMs);
      };
      xhr.open(method, url);
      for (const [name, value] of Object.entries(headers || {})) {
        // The browser sets these itself and refuses to let a script do it.
        if (!/^(content-length|host|connection|expect|transfer-encoding)$/i.test(name)) xhr.setRequestHeader(name, value);
      }
      xhr.upload.onprogress = (e) => {
        armStall();
        this._progress.update(number, e.loaded);
        this._emitProgress();
      };
      xhr.onload = () => {
        const ok = xhr.status >= 200 && xhr.status < 300;
        finish({ ok, status: xhr.status, etag: ok ? xhr.getResponseHeader('ETag') : null, text: ok ? '' : xhr.responseText, reason, sentAny: this._progress.sent(number) > 0 });
      };
      const failed = (kind) => () => finish({ ok: false, status: 0, etag: null, text: '', reason: reason || kind, sentAny: this._progress.sent(number) > 0 });
      xhr.onerror = failed('network');
      xhr.onabort = failed('aborted');
      xhr.ontimeout = failed('timeout');
      this._inflight.add(entry);
      armStall();
      xhr.send(body);
    });
  }

  /**
   * A browser shows a refused CORS preflight exactly like a lost connection: status 0, no
   * bytes sent. While nothing of this upload has ever reached the store, a few such failures
   * in a row (online) mean the store is refusing this page, and retrying for minutes would
   * only hide it.
   */
  _blindFailuresMeanCors(res) {
    if (res.status !== 0 || res.sentAny || this._progress.anySettled || isOffline()) {
      this._blindFailures = 0;
      return false;
    }
    this._blindFailures = (this._blindFailures || 0) + 1;
    return this._blindFailures >= BLIND_FAILURES_MEAN_CORS;
  }

  _corsRefused(where) {
    const host = storeHost(this);
    return this._causeError(
      'cors-preflight',
      `The browser could not send ${where} to the store${host ? ` at ${host}` : ''}: every try failed before a single byte went out.`,
      { status: 0, retryable: true },
    );
  }

  /** The first re-sign is immediate; if fresh URLs keep being refused, back off between them. */
  async _resignPause(resigns, verdict, number) {
    if (resigns === 1) {
      this.options.onRetry?.({ part: number, reason: verdict.causeId, status: verdict.status, attempt: resigns, delayMs: 0 });
      return;
    }
    await this._backoff(resigns - 1, verdict, number);
  }

  async _storeError(verdict, res, attempts, number) {
    const where = number ? `part ${number}` : 'the file';
    if (verdict.kind === 'resign' && verdict.causeId === 'url-expired') {
      // Freshly signed URLs that are "expired" on arrival are not a TTL problem.
      return this._causeError(
        'clock-skew',
        `The store said the upload URL for ${where} had expired ${this.options.maxResigns + 1} times in a row, even right after it was signed.`,
        { status: res.status, code: verdict.code, retryable: true },
      );
    }
    if (verdict.kind === 'retry') {
      return new HoistError(`Sending ${where} failed ${attempts + 1} times in a row (${verdict.message}). Check the connection and try again; the parts already stored are kept.`, {
        causeId: verdict.causeId,
        status: res.status,
        code: verdict.code,
        retryable: true,
      });
    }
    const fields = { status: res.status, code: verdict.code, detail: res.text || null };
    if (verdict.causeId) return this._causeError(verdict.causeId, verdict.message, fields);
    return new HoistError(verdict.message, fields);
  }

  async _backoff(attempt, verdict, number) {
    const delayMs = backoffDelay(attempt, this.options);
    this.options.onRetry?.({ part: number || 0, reason: verdict.causeId || verdict.code || 'network', status: verdict.status, attempt, delayMs });
    await this._sleepUnlessCanceled(delayMs);
    return delayMs;
  }

  async _sleepUnlessCanceled(ms) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      this._checkCanceled();
      await sleep(Math.min(250, end - Date.now()));
    }
    this._checkCanceled();
  }

  // ---- the coordinator's API --------------------------------------------------------------

  /** A coordinator call, retried on network errors and 5xx; 4xx are final. */
  _api(method, path, body) {
    return this._retrying(() => this._fetchJson(method, path, body));
  }

  /** `call()` again on network errors and 5xx while this upload goes on; 4xx are final. */
  async _retrying(call) {
    for (let attempt = 0; ; attempt++) {
      await this._ready();
      try {
        return await call();
      } catch (err) {
        if (err.canceled || !err.retryable || attempt >= this.options.maxRetries) throw err;
        await this._backoff(attempt + 1, { causeId: null, code: err.code, status: err.status });
      }
    }
  }

  /** The coordinator talked to now. */
  get endpoint() {
    return this._coord.endpoint;
  }

  /** One call of the JSON API, on the replicas in turn; this upload's cancel aborts it. */
  _fetchJson(method, path, body) {
    return this._coord.fetchJson(method, path, body, { inflight: this._inflight, canceled: () => this._canceled });
  }
}

/**
 * The coordinator replicas one upload, or every upload of a queue, talks to: which one is used
 * now, the clock offset its answers show, and the one way a JSON call is made.
 */
class Coordinator {
  constructor(options) {
    this.options = options;
    this.endpoints = endpointsOf(options);
    this.at = 0; // the replica talked to now
    this.clockOffsetMs = 0; // coordinator time minus local time
  }

  get endpoint() {
    return this.endpoints[this.at];
  }

  /**
   * One call of the JSON API. A replica that does not answer (network error, timeout, 5xx) is
   * left for the next, each tried once per call; the caller's retries come after. `inflight`
   * (a Set) holds the call's abort while it runs; `canceled()` says a failure is a cancel.
   */
  async fetchJson(method, path, body, { inflight = null, canceled = () => false } = {}) {
    for (let tried = 1; ; tried++) {
      try {
        return await this._fetchJsonAt(method, path, body, inflight, canceled);
      } catch (err) {
        const down = err.status === 0 || err.status >= 500;
        if (err.canceled || !down || tried >= this.endpoints.length) throw err;
        const from = this.endpoint;
        this.at = (this.at + 1) % this.endpoints.length;
        if (this.options.onFailover) this.options.onFailover({ from, to: this.endpoint, reason: err.message });
      }
    }
  }

  async _fetchJsonAt(method, path, body, inflight, canceled) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const controller = new AbortController();
    const entry = { abort: () => controller.abort() };
    const timer = setTimeout(() => controller.abort(), this.options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs);
    inflight?.add(entry);
    let res;
    try {
      res = await fetch(this.endpoint + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (err) {
      if (canceled() && method !== 'DELETE') throw new HoistError('The upload was canceled.', { canceled: true });
      throw new HoistError(`Could not reach the upload service at ${this.endpoint} (${redact(err && err.message || 'network error')}).`, { retryable: true });
    } finally {
      clearTimeout(timer);
      inflight?.delete(entry);
    }
    const date = Date.parse(res.headers.get('Date') || '');
    if (!Number.isNaN(date)) this.clockOffsetMs = date - Date.now();
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = null;
    }
    if (res.ok && json && !json.error) return json;
    throw apiError(res.status, json, text);
  }
}

// ---- many files: the queue ----------------------------------------------------------------------

const QUEUE_PREFIX = 'hoist:queue:';
// Items per batch request (the coordinator takes up to 1000; smaller requests start sooner).
const BATCH_ITEMS = 100;
// How long a single PUT's Complete waits for others to share its batch request.
const CONFIRM_GATHER_MS = 20;
const FINAL = new Set(['done', 'skipped', 'failed', 'cancelled']);
// Options only the queue reads: its files' uploads get the rest.
const QUEUE_ONLY = ['onProgress', 'onFileStart', 'onFileDone', 'onFileError', 'onStateChange', 'onError', 'key', 'filename', 'queueName'];

/**
 * Starts uploading several files through one queue and returns it. `files` holds Files or
 * Blobs, or `{file, path}` (path: where the file sits in a chosen or dropped folder,
 * `/`-separated; default `file.webkitRelativePath || file.name`). Every file lands under one
 * folder the coordinator makes (`{prefix}/{folder id}/{path}`), created in batches.
 */
export function uploadMany(files, options = {}) {
  return new UploadQueue(files, options);
}

/**
 * Interrupted queues remembered under this resume scope: [{name, files, filesDone, bytes,
 * prefix, saved_at}]. Picking the same files again (`uploadMany`) continues one.
 */
export function pendingQueues(options = {}) {
  const found = [];
  for (const { id, record } of rememberedUnder(QUEUE_PREFIX, options)) {
    if (typeof record !== 'object') continue;
    found.push({
      name: id[1],
      files: Number(record.total) || 0,
      filesDone: Object.keys(record.done || {}).length,
      bytes: Number(record.bytes) || 0,
      prefix: record.prefix ?? null,
      saved_at: record.saved_at ?? null,
    });
  }
  return found;
}

/** A relative path as a queue keeps it, or a TypeError naming what is wrong with it. */
function checkPath(path, index) {
  const fail = (why) => new TypeError(`uploadMany(files): file ${index}: path ${JSON.stringify(String(path)).slice(0, 120)} ${why}`);
  if (typeof path !== 'string' || !path) throw fail('must be a non-empty string');
  const clean = path.replace(/^\/+/, '');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(clean)) throw fail('must not hold control characters or backslashes');
  const segments = clean.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw fail('must not hold empty, "." or ".." segments');
  return clean;
}

/** One file of a queue: its path, state and progress, and what can be done to it. */
class QueueFile {
  constructor(queue, index, file, path) {
    this._queue = queue;
    this.index = index;
    this.file = file;
    this.path = path;
    this.size = file.size;
    /** queued | uploading | paused | done | failed | cancelled | skipped */
    this.state = 'queued';
    /** Bytes stored or on their way. */
    this.progress = 0;
    /** What `upload().done` gives: {bucket, key, etag, size, …}; `skipped: true` when not sent. */
    this.result = null;
    /** The HoistError it failed with. */
    this.error = null;
    /** The upload sending it now (the object `upload()` returns), or null. */
    this.upload = null;
    this._created = null; // the upload a batch create answered, not started yet
    this._tried = false; // a batch create was asked for it
  }

  pause() {
    this._queue._pauseFile(this);
  }

  resume() {
    this._queue._resumeFile(this);
  }

  cancel() {
    return this._queue._cancelFile(this);
  }

  /** Sends a failed or cancelled file again (a multipart one continues from its parts). */
  retry() {
    this._queue._retryFile(this);
  }
}

class UploadQueue {
  constructor(files, options) {
    if (!files || typeof files[Symbol.iterator] !== 'function') throw new TypeError('uploadMany(files): files must be an array of File, Blob or {file, path}');
    this.options = { ...DEFAULTS };
    for (const [name, value] of Object.entries(options)) if (value !== undefined) this.options[name] = value;
    const seen = new Set();
    this.files = [...files].map((entry, i) => {
      const file = entry && typeof entry.slice === 'function' ? entry : entry && entry.file;
      if (!file || typeof file.size !== 'number' || typeof file.slice !== 'function') {
        throw new TypeError(`uploadMany(files): file ${i} is not a File, a Blob or {file, path}`);
      }
      const path = checkPath(entry.file ? entry.path ?? (file.webkitRelativePath || file.name) : file.webkitRelativePath || file.name, i);
      if (seen.has(path)) throw new TypeError(`uploadMany(files): file ${i}: the path ${JSON.stringify(path).slice(0, 120)} is given twice`);
      seen.add(path);
      return new QueueFile(this, i, file, path);
    });
    this._coord = new Coordinator(this.options);
    this._slots = new Slots(this.options.concurrency, this.options.autoConcurrency);
    /** The folder token the coordinator answered; later batch requests continue in it. */
    this.folder = null;
    /** The key prefix every file of the folder is under, when the coordinator says. */
    this.prefix = null;
    /** Whether the coordinator has the batch routes: null until its first answer. */
    this.batch = null;
    this.state = 'running';
    this.name = this.options.queueName ?? [...new Set(this.files.map((f) => f.path.split('/')[0]))].sort().join(', ');
    this.bytesTotal = this.files.reduce((n, f) => n + f.size, 0);
    this._bytesDone = 0;
    this._sampler = new Progress(Math.max(1, this.bytesTotal));
    this._paused = false;
    this._canceled = false;
    this._inflight = new Set();
    this._wake = null;
    this._creating = Promise.resolve();
    this._confirms = [];
    this._confirmTimer = 0;
    this._saveTimer = 0;
    this._remembered = this._loadRecord();
    // A reload must not lose the files done in the last moment before it.
    globalThis.addEventListener?.('pagehide', () => {
      if (this._saveTimer) this._saveRecordNow();
    });
    this._round();
  }

  /** A Promise of the summary once every file has ended (again, after a retry). */
  get done() {
    return this._done;
  }

  /** Stops sending every file; resume() goes on where each stopped. */
  pause() {
    if (this._paused || this.state !== 'running') return;
    this._paused = true;
    this.state = 'paused';
    this._slots.drop(this);
    for (const f of this.files) {
      if (f.state === 'uploading' || f.state === 'queued') {
        f._pausedByQueue = true;
        this._pauseFile(f);
      }
    }
    this._emit();
  }

  resume() {
    if (!this._paused || this._canceled) return;
    this._paused = false;
    this.state = 'running';
    for (const f of this.files) {
      if (f._pausedByQueue) {
        f._pausedByQueue = false;
        this._resumeFile(f);
      }
    }
    this._changed();
  }

  /** Stops every file for good: multipart uploads are aborted, the queue is forgotten. */
  async cancel() {
    if (this._canceled) return this._done.catch(() => {});
    this._canceled = true;
    this._paused = false;
    this._slots.drop(this);
    for (const req of this._inflight) req.abort('cancel');
    await Promise.all(this.files.map((f) => this._cancelFile(f)));
    this._forgetRecord();
    this._changed();
    return this._done.catch(() => {});
  }

  // ---- rounds: from queued to every file ended ---------------------------------------------

  _round() {
    if (this._running) return;
    this._running = true;
    this.state = this._canceled ? 'cancelled' : this._paused ? 'paused' : 'running';
    this._done = this._schedule().then(
      (summary) => {
        this._running = false;
        return summary;
      },
      (err) => {
        this._running = false;
        throw err;
      },
    );
    this._done.catch(() => {});
  }

  async _schedule() {
    for (;;) {
      this._emit();
      if (this.files.every((f) => FINAL.has(f.state))) break;
      const next = this._canceled || this._paused ? null : this.files.find((f) => f.state === 'queued');
      if (!next) {
        await new Promise((resolve) => (this._wake = resolve));
        continue;
      }
      if (!next._tried && !next._created && this.batch !== false) await this._createFrom(next);
      if (next.state !== 'queued' || this._paused || this._canceled) continue;
      // The file's first request waits its turn for a slot like every part of every file.
      const slot = await this._slots.acquire(this);
      if (!slot) continue;
      if (next.state !== 'queued' || this._paused || this._canceled) {
        slot();
        continue;
      }
      this._start(next, slot);
      this._prefetch(next);
    }
    const summary = this._summary();
    if (!this._canceled && summary.failed.length === 0) this._forgetRecord();
    else this._saveRecordNow();
    this.state = this._canceled ? 'cancelled' : 'done';
    this._emit();
    return summary;
  }

  _changed() {
    const wake = this._wake;
    this._wake = null;
    wake?.();
  }

  _summary() {
    const entry = (f) => ({ path: f.path, ...f.result });
    return {
      uploaded: this.files.filter((f) => f.state === 'done').map(entry),
      skipped: this.files.filter((f) => f.state === 'skipped').map(entry),
      failed: this.files
        .filter((f) => f.state === 'failed')
        .map((f) => ({ path: f.path, error: f.error, causeId: f.error?.causeId ?? null, message: f.error?.message ?? '' })),
      cancelled: this.files.filter((f) => f.state === 'cancelled').map((f) => ({ path: f.path })),
    };
  }

  _start(f, slot) {
    f.state = 'uploading';
    f.error = null;
    const created = f._created;
    f._created = null;
    const options = {};
    for (const [name, value] of Object.entries(this.options)) if (!QUEUE_ONLY.includes(name)) options[name] = value;
    let u = null;
    const tell = (name) => (event) => this.options[name]?.({ ...event, path: f.path, file: f });
    Object.assign(options, {
      onWarning: tell('onWarning'),
      onRetry: tell('onRetry'),
      onResume: tell('onResume'),
      onHookPending: tell('onHookPending'),
      onProgress: (p) => {
        this._setProgress(f, p.loaded);
        this._emit();
      },
      onStateChange: (state) => {
        if (!u || f.upload !== u || FINAL.has(f.state)) return;
        if (state === 'paused') f.state = 'paused';
        else if (['starting', 'uploading', 'offline', 'completing'].includes(state)) f.state = 'uploading';
        this._emit();
      },
    });
    u = new Upload(f.file, options, {
      coordinator: this._coord,
      slots: this._slots,
      created,
      create: (body, upload) => this._createOne(f, body, upload),
      confirm: (id, upload) => this._confirm(id, upload),
      resumeName: f.path,
      slot,
      keepsResume: true,
    });
    f.upload = u;
    this.options.onFileStart?.(f);
    u.done.then(
      (result) => {
        if (f.upload !== u) return;
        f.state = 'done';
        f.result = result;
        this._setProgress(f, f.size);
        // A multipart file's resume record goes only once the queue's record names it done:
        // a reload in between continues from one or the other, never sends it all again. A
        // single PUT has no resume record.
        const multipart = !!u.plan;
        this._rememberDone(f, multipart);
        if (multipart) u._forgetResume();
        this.options.onFileDone?.(f);
      },
      (error) => {
        if (f.upload !== u) return;
        f.error = error;
        if (error.canceled) {
          f.state = 'cancelled';
          this._setProgress(f, 0);
        } else {
          f.state = 'failed';
          this.options.onFileError?.(f, error);
        }
      },
    ).finally(() => {
      this._emit();
      this._changed();
    });
  }

  // ---- per-file controls ------------------------------------------------------------------

  _pauseFile(f) {
    if (f.state === 'uploading' && f.upload) {
      f.upload.pause();
      f.state = 'paused';
    } else if (f.state === 'queued') {
      f.state = 'paused';
    }
    this._emit();
  }

  _resumeFile(f) {
    if (f.state !== 'paused') return;
    if (f.upload) {
      f.state = 'uploading';
      f.upload.resume();
    } else {
      f.state = 'queued';
    }
    if (!this._paused) this._changed();
    this._emit();
  }

  async _cancelFile(f) {
    if (FINAL.has(f.state)) return;
    if (f.upload) {
      await f.upload.cancel();
      return;
    }
    f.state = 'cancelled';
    const created = f._created;
    f._created = null;
    // A multipart upload the batch made for it holds nothing yet; it is aborted all the same.
    if (created && created.strategy !== 'single' && created.id) {
      const store = this.options.resume ? storage(this.options) : null;
      store?.removeItem(resumeKey(f.file, scopeOf(this.options), f.path));
      await this._coord.fetchJson('DELETE', `/v1/uploads/${encodeURIComponent(created.id)}`).catch(() => {});
    }
    this._emit();
    this._changed();
  }

  _retryFile(f) {
    if (f.state !== 'failed' && f.state !== 'cancelled') return;
    if (this._canceled) throw new TypeError('retry(): the queue was cancelled');
    f.state = 'queued';
    f.error = null;
    f.upload = null;
    f.result = null;
    this._setProgress(f, 0);
    if (!this._running) this._round();
    this._changed();
    this._emit();
  }

  // ---- creating: the batch route --------------------------------------------------------------

  /** What the batch create is asked for `f` (its MD5 when continuing a folder: done files are skipped). */
  async _item(f) {
    const item = { size: f.size, path: f.path };
    const type = this.options.contentType ?? f.file.type;
    if (type) item.content_type = type;
    if (this.options.metadata) item.metadata = this.options.metadata;
    if (this.options.noClobber) item.if_none_match = '*';
    if (this._remembered && this.folder && f.size <= this.options.unlessStoredMaxBytes) {
      item.unless_stored = { md5: await md5OfBlob(f.file) };
    }
    return item;
  }

  /** Creates the files from `first` on that have not been asked for yet, one batch request. */
  _createFrom(first) {
    const start = this.files.indexOf(first);
    const chunk = [];
    for (let i = start; i < this.files.length && chunk.length < BATCH_ITEMS; i++) {
      const f = this.files[i];
      if (f._tried || f._created || f.state !== 'queued') continue;
      // A multipart upload remembered from before a reload continues from its parts instead.
      if (this._rememberedMultipart(f)) continue;
      chunk.push(f);
    }
    for (const f of chunk) f._tried = true;
    // One request after the other: the first one's answer names the folder the next continue.
    this._creating = this._creating.then(() => (chunk.length ? this._createChunk(chunk) : null)).catch(() => {});
    return this._creating;
  }

  /** Creates the next batch ahead, while fewer than half a batch wait created. */
  _prefetch(after) {
    if (this.batch === false) return;
    const waiting = this.files.filter((f) => f._created && f.state === 'queued').length;
    if (waiting >= BATCH_ITEMS / 2) return;
    const next = this.files.slice(after.index + 1).find((f) => f.state === 'queued' && !f._tried && !f._created && !this._rememberedMultipart(f));
    if (next) this._createFrom(next);
  }

  _rememberedMultipart(f) {
    if (!this.options.resume) return false;
    const record = safeParse(storage(this.options)?.getItem(resumeKey(f.file, scopeOf(this.options), f.path)));
    return !!(record && record.strategy === 'multipart' && record.id);
  }

  async _createChunk(chunk) {
    if (this.batch === false || this._canceled) return;
    let answer;
    try {
      const items = [];
      for (const f of chunk) items.push(await this._item(f));
      const body = { uploads: items };
      if (this.folder) body.folder = this.folder;
      answer = await this._call('POST', '/v1/uploads/batch', body);
    } catch (err) {
      if (err.status === 404 || err.status === 405) {
        // An older coordinator: every file is created on its own, POST /v1/uploads.
        this.batch = false;
        return;
      }
      for (const f of chunk) this._failCreate(f, err);
      return;
    }
    this.batch = true;
    this._useFolder(answer);
    const answers = Array.isArray(answer && answer.uploads) ? answer.uploads : [];
    chunk.forEach((f, i) => {
      const a = answers[i];
      if (!a) return this._failCreate(f, new HoistError(`The coordinator's batch answer has no entry for ${f.path}.`, { detail: answer }));
      this._useCreated(f, a);
    });
  }

  _useFolder(answer) {
    if (answer && typeof answer.folder === 'string' && answer.folder && answer.folder !== this.folder) {
      this.folder = answer.folder;
      if (answer.prefix != null) this.prefix = answer.prefix;
      this._saveRecordNow();
    } else if (answer && answer.prefix != null && this.prefix == null) {
      this.prefix = answer.prefix;
    }
  }

  _useCreated(f, a) {
    if (f.state !== 'queued' && f.state !== 'paused') {
      // Cancelled meanwhile: what the batch made for it goes.
      if (a.upload && a.upload.strategy !== 'single' && a.upload.id) {
        this._coord.fetchJson('DELETE', `/v1/uploads/${encodeURIComponent(a.upload.id)}`).catch(() => {});
      }
      return;
    }
    if (a.skipped) {
      const s = a.skipped;
      f.state = 'skipped';
      f.result = { bucket: s.bucket ?? null, key: s.key, etag: stripQuotes(s.etag), size: s.size != null ? Number(s.size) : f.size, skipped: true };
      this._setProgress(f, f.size);
      this._rememberDone(f);
      this.options.onFileDone?.(f);
      return;
    }
    if (a.upload && (!a.status || a.status < 300)) {
      f._created = a.upload;
      if (a.upload.strategy !== 'single' && this.options.resume) {
        const store = storage(this.options);
        if (store) rememberMultipart(store, resumeKey(f.file, scopeOf(this.options), f.path), a.upload, f.file, f.path);
      }
      return;
    }
    this._failCreate(f, apiError(Number(a.status) || 0, a.error || null, ''));
  }

  _failCreate(f, err) {
    if (f.state !== 'queued' && f.state !== 'paused') return;
    f.state = 'failed';
    f.error = err instanceof HoistError ? err : new HoistError(redact(String(err && err.message || err)));
    this.options.onFileError?.(f, f.error);
    this._changed();
  }

  /**
   * A new upload of one file, for its Upload: a retry, a single PUT whose URL expired, or a
   * remembered multipart upload that is gone. Through the batch route, into the same folder.
   */
  async _createOne(f, body, upload) {
    if (this.batch !== false) {
      const item = { ...body, path: f.path };
      delete item.filename;
      delete item.key;
      const request = { uploads: [item] };
      if (this.folder) request.folder = this.folder;
      try {
        const answer = await upload._retrying(() => upload._fetchJson('POST', '/v1/uploads/batch', request));
        this.batch = true;
        this._useFolder(answer);
        const a = answer && Array.isArray(answer.uploads) ? answer.uploads[0] : null;
        if (a && a.upload && (!a.status || a.status < 300)) return a.upload;
        if (a && a.error) throw apiError(Number(a.status) || 0, a.error, '');
        throw new HoistError(`The coordinator's batch answer has no upload for ${f.path}.`, { detail: answer });
      } catch (err) {
        if (err.status !== 404 && err.status !== 405) throw err;
        this.batch = false;
      }
    }
    return upload._api('POST', '/v1/uploads', body);
  }

  // ---- completing single PUTs: the batch route ---------------------------------------------

  /** A single PUT's Complete, gathered with the others of a moment into one batch request. */
  _confirm(id, upload) {
    const own = () => upload._api('POST', `/v1/uploads/${encodeURIComponent(id)}/complete`);
    if (this.batch === false || this._batchComplete === false) return own();
    return new Promise((resolve, reject) => {
      this._confirms.push({ id, resolve, reject, own });
      if (this._confirms.length >= BATCH_ITEMS) this._flushConfirms();
      else if (!this._confirmTimer) this._confirmTimer = setTimeout(() => this._flushConfirms(), CONFIRM_GATHER_MS);
    });
  }

  async _flushConfirms() {
    clearTimeout(this._confirmTimer);
    this._confirmTimer = 0;
    const batch = this._confirms.splice(0, BATCH_ITEMS);
    if (this._confirms.length) this._confirmTimer = setTimeout(() => this._flushConfirms(), 0);
    if (!batch.length) return;
    let answer;
    try {
      answer = await this._call('POST', '/v1/uploads/batch/complete', { uploads: batch.map((b) => ({ id: b.id })) });
    } catch (err) {
      if (err.status === 404 || err.status === 405) {
        this._batchComplete = false;
        for (const b of batch) b.own().then(b.resolve, b.reject);
      } else {
        for (const b of batch) b.reject(err);
      }
      return;
    }
    const answers = Array.isArray(answer && answer.uploads) ? answer.uploads : [];
    batch.forEach((b, i) => {
      const a = answers[i];
      if (a && a.completed && (!a.status || a.status < 300)) b.resolve(a.completed);
      else if (a && a.error) b.reject(apiError(Number(a.status) || 0, a.error, ''));
      else b.reject(new HoistError('The coordinator\'s batch complete answer has no entry for an upload.', { detail: answer }));
    });
  }

  /** A queue-level coordinator call, retried on network errors and 5xx; 4xx are final. */
  async _call(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      if (this._canceled) throw new HoistError('The upload was canceled.', { canceled: true });
      try {
        return await this._coord.fetchJson(method, path, body, { inflight: this._inflight, canceled: () => this._canceled });
      } catch (err) {
        if (err.canceled || !err.retryable || attempt >= this.options.maxRetries) throw err;
        await sleep(backoffDelay(attempt + 1, this.options));
      }
    }
  }

  // ---- progress -------------------------------------------------------------------------------

  _setProgress(f, bytes) {
    const delta = bytes - f.progress;
    f.progress = bytes;
    this._bytesDone += delta;
    // The rate counts what is sent now, not files skipped as stored before.
    if (delta > 0 && f.state !== 'skipped') this._sampler.update(0, this._sampler.sent(0) + delta);
  }

  _emit() {
    if (!this.options.onProgress) return;
    let filesDone = 0;
    let active = 0;
    for (const f of this.files) {
      if (f.state === 'done' || f.state === 'skipped') filesDone += 1;
      else if (f.state === 'uploading') active += 1;
    }
    const rate = this._sampler.snapshot().bytesPerSecond;
    this.options.onProgress({
      filesDone,
      filesTotal: this.files.length,
      bytesDone: Math.max(0, this._bytesDone),
      bytesTotal: this.bytesTotal,
      rate,
      active,
      state: this.state,
    });
  }

  // ---- what survives a reload ---------------------------------------------------------------

  _recordKey() {
    return QUEUE_PREFIX + JSON.stringify([scopeOf(this.options), this.name]);
  }

  /** The remembered queue of these files: its folder, and the files already stored skipped. */
  _loadRecord() {
    const store = this.options.resume ? storage(this.options) : null;
    const record = store && safeParse(store.getItem(this._recordKey()));
    // A queue on a coordinator without the batch routes has no folder: its files done still count.
    if (!record || typeof record !== 'object' || (typeof record.folder !== 'string' && record.folder !== null)) return null;
    this.folder = record.folder;
    this.prefix = record.prefix ?? null;
    const done = record.done && typeof record.done === 'object' ? record.done : {};
    for (const f of this.files) {
      const d = done[f.path];
      if (!Array.isArray(d) || d[0] !== f.size || d[1] !== (f.file.lastModified || 0)) continue;
      f.state = 'skipped';
      f.result = { bucket: d[4] ?? null, key: d[2], etag: d[3], size: f.size, skipped: true };
      this._setProgress(f, f.size);
    }
    this._done_record = done;
    return record;
  }

  /** Files `f` as done in the queue's record: `now` at once, otherwise a moment later. */
  _rememberDone(f, now = false) {
    if (!this.options.resume || (!this.folder && this.batch !== false)) return;
    this._done_record = this._done_record || {};
    const r = f.result || {};
    this._done_record[f.path] = [f.size, f.file.lastModified || 0, r.key ?? null, r.etag ?? null, r.bucket ?? null];
    if (now) return this._saveRecordNow();
    // Written a moment later, once for many files; a file finished in that moment is skipped
    // after a reload all the same, by the coordinator comparing its MD5.
    if (!this._saveTimer) this._saveTimer = setTimeout(() => this._saveRecordNow(), 250);
  }

  _saveRecordNow() {
    clearTimeout(this._saveTimer);
    this._saveTimer = 0;
    const store = this.options.resume ? storage(this.options) : null;
    if (!store || (!this.folder && this.batch !== false) || this._forgotten) return;
    const record = {
      folder: this.folder,
      prefix: this.prefix,
      total: this.files.length,
      bytes: this.bytesTotal,
      done: this._done_record || {},
      saved_at: new Date().toISOString(),
    };
    try {
      store.setItem(this._recordKey(), JSON.stringify(record));
    } catch {
      // A full or disabled localStorage only loses resume, not the uploads.
    }
  }

  _forgetRecord() {
    clearTimeout(this._saveTimer);
    this._saveTimer = 0;
    const store = this.options.resume ? storage(this.options) : null;
    store?.removeItem(this._recordKey());
    if (this._canceled) this._forgotten = true;
  }
}

// ---- classification of answers ---------------------------------------------------------------

/**
 * What to do about a store answer: retry, re-sign, or give up, with the cause id. `message`
 * says what the store answered; what a cause means is the catalogue's (describeCause).
 */
export function classifyStore(res) {
  const status = res.status;
  if (status === 0) {
    if (res.reason === 'pause' || res.reason === 'cancel' || res.reason === 'failure' || res.reason === 'aborted') {
      return { kind: 'aborted' };
    }
    const what = res.reason === 'stall' ? 'no progress for a long time' : 'the connection failed';
    return { kind: 'retry', status, causeId: null, code: res.reason, message: what };
  }
  const text = res.text || '';
  const code = xmlField(text, 'Code');
  const message = xmlField(text, 'Message') || '';
  const base = { status, code };
  const said = `The store answered ${status}${code ? ' ' + code : ''}${message ? ` (${message})` : ''}.`;
  if (/request has expired/i.test(message) || (status === 400 && /date is too old|expired/i.test(message) && code !== 'ExpiredToken')) {
    return { ...base, kind: 'resign', causeId: 'url-expired', message: said };
  }
  if (code === 'ExpiredToken') {
    return { ...base, kind: 'resign', causeId: 'credentials-expired', message: said };
  }
  if (code === 'RequestTimeTooSkewed' || /not yet valid/i.test(message)) {
    return { ...base, kind: 'resign', causeId: 'clock-skew', message: said };
  }
  if (code === 'SignatureDoesNotMatch') {
    return { ...base, kind: 'fatal', causeId: 'signature-mismatch', message: said };
  }
  if (code === 'EntityTooLarge') {
    return { ...base, kind: 'fatal', causeId: 'entity-too-large', message: said };
  }
  if (code === 'NoSuchUpload') {
    return { ...base, kind: 'fatal', causeId: 'no-such-upload', message: said };
  }
  // A no-clobber PUT (signed with If-None-Match: *) that met an object at its key.
  if (code === 'PreconditionFailed' || (status === 412 && !code)) {
    return { ...base, kind: 'fatal', causeId: 'already-exists', message: said };
  }
  // A conditional write met another one committed meanwhile: S3 asks to send it again.
  if (code === 'ConditionalRequestConflict') {
    return { ...base, kind: 'retry', causeId: null, message: said };
  }
  if (code === 'InvalidRequest' && /AWS4-HMAC-SHA256/.test(message)) {
    return { ...base, kind: 'fatal', causeId: 'sigv2', message: said };
  }
  if (status === 408 || status === 429 || status >= 500) {
    const what = code === 'SlowDown' ? 'the store asked to slow down' : `the store answered ${status}${code ? ' ' + code : ''}`;
    return { ...base, kind: 'retry', causeId: null, message: what };
  }
  if (code === 'AccessDenied') {
    return { ...base, kind: 'fatal', causeId: null, message: `The store denied the upload: ${message || 'access denied'}.` };
  }
  return { ...base, kind: 'fatal', causeId: null, message: `The store refused the upload with ${status}${code ? ' ' + code : ''}${message ? ': ' + message : ''}.` };
}

function apiError(status, json, text) {
  const message = redact((json && (json.error || json.message)) || (text && text.slice(0, 200)) || `HTTP ${status}`);
  const code = (json && json.code) || null;
  const retryable = status === 408 || status === 429 || status >= 500;
  let causeId = (json && (json.cause || json.cause_id)) || null;
  if (!causeId && (code === 'upload_gone' || code === 'no_such_upload')) causeId = 'no-such-upload';
  if (!causeId && code === 'already_exists') causeId = 'already-exists';
  let words = message;
  if (status === 401 || status === 403) words = `The upload service refused this upload: ${message}`;
  else if (status >= 500) words = `The upload service had a problem: ${message}`;
  return new HoistError(words, { status, code, retryable, causeId, detail: json });
}

// ---- the cause catalogue -----------------------------------------------------------------------

// How long a page waits for the catalogue before it tells a cause by its id alone.
const CATALOGUE_TIMEOUT_MS = 10_000;
// endpoint -> promise of the catalogue ({id: {title, explanation, fix, browser}}) or null
const catalogues = new Map();

/**
 * What to tell a person about `causeId`: the `browser` words of the coordinator's catalogue
 * (GET /v1/causes, fetched once per endpoint), with `{origin}` filled in. Only when the
 * catalogue cannot be had does a short line name the id instead.
 */
export async function describeCause(causeId, options = {}) {
  const endpoint = endpointOf(options);
  let pending = catalogues.get(endpoint);
  if (!pending) {
    pending = fetchCatalogue(endpoint);
    catalogues.set(endpoint, pending);
  }
  const catalogue = await pending;
  // A failed fetch is not kept: the next cause to tell asks again.
  if (!catalogue && catalogues.get(endpoint) === pending) catalogues.delete(endpoint);
  const words = catalogue && catalogue[causeId] && catalogue[causeId].browser;
  if (typeof words === 'string' && words) return words.split('{origin}').join(options.origin || originOf());
  return `(Cause ${causeId}: its description could not be loaded; hoist doctor explain gives it.)`;
}

async function fetchCatalogue(endpoint) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), CATALOGUE_TIMEOUT_MS);
  try {
    const res = await fetch(`${endpoint}/v1/causes`, { headers: { Accept: 'application/json' }, signal: controller.signal });
    if (!res.ok) return null;
    const catalogue = await res.json();
    return catalogue && typeof catalogue === 'object' ? catalogue : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

// ---- secrets in text ---------------------------------------------------------------------------

// How many characters of a secret a message may show (as hoist_core::redact).
const REDACT_SHOWN = 6;
// Where a secret's value starts; `path`: a `/` ends it (a route's segment).
const REDACT_MARKERS = [
  ['x-amz-signature=', false], ['x-amz-credential=', false], ['x-amz-security-token=', false],
  ['x-amz-security-token:', false], ['signature=', false], ['credential=', false], ['bearer ', false],
  ['/v1/uploads/', true], ['/s3/multipart/', true], ['whsec_', false], ['"folder":"', false],
];
// Runs of token characters this long are opaque credentials: no identifier a message needs is.
const REDACT_LONG_TOKEN = 64;

function shorten(secret) {
  const chars = [...secret];
  if (!chars.length) return '';
  return chars.length > REDACT_SHOWN ? `${chars.slice(0, REDACT_SHOWN).join('')}…` : '…';
}

/**
 * `text` with every secret shortened to six characters and `…`: presigned URLs' signatures,
 * credentials and session tokens, `Bearer` credentials, upload ids in the coordinator's routes,
 * folder tokens, JWTs (grants) and any other run of 64 or more token characters. The same rule
 * as the coordinator's logs; every message hoist.js makes from what a server said passes here.
 */
export function redact(text) {
  let out = '';
  let rest = String(text ?? '');
  for (;;) {
    const lower = rest.toLowerCase();
    let best = null;
    for (const [marker, path] of REDACT_MARKERS) {
      const i = lower.indexOf(marker);
      if (i >= 0 && (!best || i + marker.length < best.start)) best = { start: i + marker.length, path };
    }
    if (!best) break;
    let start = best.start;
    while (rest[start] === ' ' || rest[start] === '\t') start++;
    out += rest.slice(0, start);
    const tail = rest.slice(start);
    const stop = best.path ? /[\s&"'<>,;)/?#]/ : /[\s&"'<>,;)]/;
    const m = stop.exec(tail);
    const end = m ? m.index : tail.length;
    const value = tail.slice(0, end);
    out += best.path && value.startsWith('{') && value.endsWith('}') ? value : shorten(value);
    rest = tail.slice(end);
  }
  out += rest;
  // JWTs (dots included) and long runs of token characters.
  return out.replace(/eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,}|[A-Za-z0-9_-]+/g, (word) =>
    (word.startsWith('eyJ') && word.split('.').length >= 3) || word.length >= REDACT_LONG_TOKEN ? shorten(word) : word,
  );
}

// ---- one concurrency limit ----------------------------------------------------------------------

/** A count of requests as Slots takes it: a whole number of at least 1. */
function wholeAtLeastOne(value) {
  return Math.max(1, Math.floor(value || 1));
}

// Requests smaller than this say little about the link (their time is mostly round trips):
// they do not move an 'auto' limit.
const AUTO_MIN_BYTES = MiB;

/**
 * `limit` slots handed out first come, first served: every request that sends bytes to the store
 * holds one while it runs. A queue's files share one, so a big file's parts and small files take
 * turns and never more than `limit` requests are in flight. With `concurrency` 'auto' the limit
 * starts at `auto.min`, goes to `auto.max` when a request of a MiB or more finishes within
 * `auto.raiseBelowMs`, and back to `auto.min` when one takes `auto.lowerAboveMs` or more
 * (`observe`); `min` and `max` are the bounds it moves between (the same number otherwise).
 */
class Slots {
  constructor(concurrency, auto = DEFAULTS.autoConcurrency) {
    if (concurrency === 'auto') {
      this.auto = { ...DEFAULTS.autoConcurrency, ...auto };
      this.min = wholeAtLeastOne(this.auto.min);
      this.max = Math.max(this.min, wholeAtLeastOne(this.auto.max));
    } else {
      this.auto = null;
      this.min = wholeAtLeastOne(concurrency);
      this.max = this.min;
    }
    this.limit = this.min;
    this.used = 0;
    this.waiting = []; // [{owner, resolve}]
    this.peak = 0;
  }

  /** Resolves with a release function once a slot is free, or with null if `drop(owner)` ran. */
  acquire(owner) {
    if (this.used < this.limit && !this.waiting.length) return Promise.resolve(this._grant());
    return new Promise((resolve) => this.waiting.push({ owner, resolve }));
  }

  /** Whoever `owner` is no longer waits. */
  drop(owner) {
    const kept = [];
    for (const w of this.waiting) {
      if (w.owner === owner) w.resolve(null);
      else kept.push(w);
    }
    this.waiting = kept;
  }

  /** A request that sent `bytes` answered after `ms`: an 'auto' limit follows it. */
  observe(bytes, ms) {
    if (!this.auto || bytes < AUTO_MIN_BYTES) return;
    if (ms < this.auto.raiseBelowMs) this.limit = this.max;
    else if (ms >= this.auto.lowerAboveMs) this.limit = this.min;
    this._fill();
  }

  _fill() {
    while (this.used < this.limit && this.waiting.length) this.waiting.shift().resolve(this._grant());
  }

  _grant() {
    this.used += 1;
    this.peak = Math.max(this.peak, this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
      this._fill();
    };
  }
}

// ---- small pure helpers -----------------------------------------------------------------------

// MD5 (RFC 1321), for the one comparison S3 allows with a single PUT's ETag. Only used when a
// no-clobber PUT is refused after a try that may have landed; WebCrypto has no MD5.
const MD5_SHIFT = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

export class Md5 {
  constructor() {
    this.h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
    this.tail = new Uint8Array(64);
    this.tailLength = 0;
    this.length = 0;
    this.words = new Uint32Array(16);
  }

  update(bytes) {
    let i = 0;
    this.length += bytes.length;
    if (this.tailLength) {
      const take = Math.min(64 - this.tailLength, bytes.length);
      this.tail.set(bytes.subarray(0, take), this.tailLength);
      this.tailLength += take;
      i = take;
      if (this.tailLength < 64) return this;
      this._block(this.tail, 0);
      this.tailLength = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this._block(bytes, i);
    this.tail.set(bytes.subarray(i), 0);
    this.tailLength = bytes.length - i;
    return this;
  }

  /** The digest in lower-case hex. */
  hex() {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.tailLength < 56 ? 56 : 120) - this.tailLength) + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, bits % 2 ** 32, true);
    view.setUint32(pad.length - 4, Math.floor(bits / 2 ** 32), true);
    this.length -= pad.length; // padding is not message
    this.update(pad);
    let out = '';
    for (const word of this.h) {
      for (let b = 0; b < 4; b++) out += ((word >>> (8 * b)) & 0xff).toString(16).padStart(2, '0');
    }
    return out;
  }

  _block(bytes, at) {
    const m = this.words;
    for (let j = 0; j < 16; j++) {
      const o = at + 4 * j;
      m[j] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    }
    let [a, b, c, d] = this.h;
    for (let i = 0; i < 64; i++) {
      let f;
      let g;
      if (i < 16) [f, g] = [(b & c) | (~b & d), i];
      else if (i < 32) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
      else if (i < 48) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
      else [f, g] = [c ^ (b | ~d), (7 * i) % 16];
      const s = MD5_SHIFT[(i >> 4) * 4 + (i % 4)];
      const x = (a + f + MD5_K[i] + m[g]) | 0;
      [a, d, c] = [d, c, b];
      b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
    }
    this.h[0] += a;
    this.h[1] += b;
    this.h[2] += c;
    this.h[3] += d;
  }
}

/** The MD5 of a Blob, read in slices so memory stays small. */
export async function md5OfBlob(blob) {
  const md5 = new Md5();
  for (let at = 0; at < blob.size; at += 8 * MiB) {
    md5.update(new Uint8Array(await blob.slice(at, at + 8 * MiB).arrayBuffer()));
  }
  return md5.hex();
}

export function backoffDelay(attempt, { retryBaseMs = DEFAULTS.retryBaseMs, retryMaxMs = DEFAULTS.retryMaxMs } = {}) {
  // Exponential with "equal jitter": never a burst of instant retries, never a long idle stretch.
  const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function xmlField(text, name) {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
  return m ? m[1].replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

/** A stored part as the coordinator lists it (or S3's names for the same): number, ETag, length. */
function storedPart(p) {
  return {
    number: Number(p.number ?? p.part_number ?? p.PartNumber),
    etag: stripQuotes(p.etag ?? p.ETag),
    length: Number(p.length ?? p.size) || 0,
  };
}

function stripQuotes(etag) {
  return etag ? String(etag).replace(/^W\//, '').replace(/^"|"$/g, '') : null;
}

function parseTime(value) {
  if (value == null) return null;
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

function planMatches(state, saved, size) {
  const stateSize = state.size ?? saved.size;
  const partSize = state.part_size ?? saved.part_size;
  return Number(stateSize) === size && Number(partSize) === Number(saved.part_size);
}

function finalResult(answer, fallback, size) {
  const result = {
    bucket: (answer && answer.bucket) || fallback.bucket,
    key: (answer && answer.key) || fallback.key,
    etag: stripQuotes(answer && answer.etag) || fallback.etag,
    size: answer && answer.size != null ? Number(answer.size) : fallback.size,
  };
  if (answer && (answer.url || answer.location)) result.url = answer.url || answer.location;
  if (answer && typeof answer.hook_pending === 'boolean') result.hookPending = answer.hook_pending;
  if (result.size !== size) {
    throw new HoistError(`The stored object has ${result.size} bytes but the file has ${size}; it was not stored intact.`, { detail: answer });
  }
  return result;
}

/** The coordinators `options.endpoint` names (a string, a comma list or an array), in order. */
function endpointsOf(options) {
  const given = options.endpoint;
  const list = Array.isArray(given) ? given : String(given || '').split(',');
  const out = [];
  for (const e of list) {
    const base = String(e).trim().replace(/\/+$/, '');
    if (base && !out.includes(base)) out.push(base);
  }
  if (!out.length) out.push(typeof location !== 'undefined' ? location.origin : '');
  return out;
}

function endpointOf(options) {
  return endpointsOf(options)[0];
}

function scopeOf(options) {
  return String(options.resumeScope || 'hoist');
}

function storeHost(upload) {
  const any = (upload.single && upload.single.url) || [...upload._urls.values()].map((u) => u.url)[0];
  try {
    return any ? new URL(any).host : null;
  } catch {
    return null;
  }
}

function originOf() {
  return typeof location !== 'undefined' ? location.origin : 'this page';
}

/** Files a multipart upload's resume record (what `_createOrResume` reads after a reload). */
function rememberMultipart(store, key, created, file, name) {
  const record = {
    id: created.id,
    bucket: created.bucket,
    key: created.key,
    strategy: 'multipart',
    part_size: created.part_size,
    part_count: created.part_count,
    size: file.size,
    expires_at: created.expires_at,
    name,
    saved_at: new Date().toISOString(),
  };
  try {
    store.setItem(key, JSON.stringify(record));
  } catch {
    // A full or disabled localStorage only loses resume, not the upload.
  }
}

function resumeKey(file, scope, name = file.name) {
  return STORAGE_PREFIX + JSON.stringify([scope, name || '', file.size, file.lastModified || 0]);
}

function storage(options) {
  if (options.storage !== undefined) return options.storage;
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // storage disabled (private mode, sandboxed frame)
  }
}

function safeParse(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function isOffline() {
  return typeof navigator !== 'undefined' && navigator.onLine === false;
}

function waitOnline(stop) {
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(poll);
      globalThis.removeEventListener?.('online', done);
      resolve();
    };
    // The 'online' event is the signal; the poll notices a pause or cancel meanwhile.
    const poll = setInterval(() => {
      if (!isOffline() || stop()) done();
    }, 500);
    globalThis.addEventListener?.('online', done);
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Bytes confirmed, bytes in flight per part, and a speed over the last few seconds. */
class Progress {
  constructor(total) {
    this.total = total;
    this.confirmed = 0;
    this.inflight = new Map();
    this.wire = 0; // every byte handed to the network, failed tries included: the speed
    this.samples = [[now(), 0]];
    this.anySettled = false;
  }
  update(number, loaded) {
    const before = this.inflight.get(number) || 0;
    if (loaded > before) this.wire += loaded - before;
    this.inflight.set(number, loaded);
  }
  sent(number) {
    return this.inflight.get(number) || 0;
  }
  settle(number, length) {
    const before = this.inflight.get(number) || 0;
    if (length > before) this.wire += length - before;
    this.inflight.delete(number);
    if (length) {
      this.confirmed += length;
      this.anySettled = true;
    }
  }
  confirm(length) {
    this.confirmed += length;
  }
  snapshot() {
    let flying = 0;
    for (const v of this.inflight.values()) flying += v;
    const loaded = Math.min(this.total, this.confirmed + flying);
    const t = now();
    const last = this.samples[this.samples.length - 1];
    if (t - last[0] >= 250) {
      this.samples.push([t, this.wire]);
      while (this.samples.length > 2 && t - this.samples[0][0] > 5000) this.samples.shift();
    }
    const first = this.samples[0];
    const dt = (t - first[0]) / 1000;
    const bytesPerSecond = dt >= 0.25 ? (this.wire - first[1]) / dt : 0;
    const remaining = this.total - loaded;
    return {
      loaded,
      total: this.total,
      fraction: this.total ? loaded / this.total : 1,
      bytesPerSecond,
      secondsLeft: bytesPerSecond > 0 ? remaining / bytesPerSecond : null,
    };
  }
}

function now() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export { MiB };
