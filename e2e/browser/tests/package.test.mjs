// hoist.js as a package a web team installs: `npm pack` of web/, installed offline into a fresh
// project, its `exports` resolved by Node, TypeScript and esbuild; the example in
// web/examples/bundler.ts type-checks strictly against hoist.d.ts and bundles; and every export
// of hoist.js has a declaration (and every declared value exists).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { REPO, tempDir } from '../helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ts = require('typescript');
const TSC = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');
const WEB = join(REPO, 'web');
const NAME = '@hoist-rs/hoist-js';

let project;
let packInfo;

before(() => {
  project = tempDir('package');
  const packed = join(project, 'packed');
  mkdirSync(packed);
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', packed], { cwd: WEB, encoding: 'utf8' });
  [packInfo] = JSON.parse(out);
  const tarball = join(packed, packInfo.filename);
  // A fresh project that installs the tarball without any registry.
  const app = join(project, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, encoding: 'utf8' });
  copyFileSync(join(WEB, 'examples', 'bundler.ts'), join(app, 'src', 'bundler.ts'));
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

const app = () => join(project, 'app');

test('the tarball holds the module, its declarations and the manifest, at the workspace version', () => {
  const files = packInfo.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['hoist.d.ts', 'hoist.js', 'package.json']);
  assert.equal(packInfo.name, NAME);
  const cargo = readFileSync(join(REPO, 'Cargo.toml'), 'utf8');
  const version = /\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/.exec(cargo)?.[1];
  assert.ok(version, 'the workspace version in Cargo.toml');
  assert.equal(packInfo.version, version);
  const manifest = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf8'));
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.license, 'Apache-2.0');
  assert.deepEqual(manifest.exports['.'], { types: './hoist.d.ts', import: './hoist.js' });
});

test('installed offline, Node resolves the package to hoist.js and imports it', async () => {
  const installed = join(app(), 'node_modules', ...NAME.split('/'));
  assert.deepEqual(readdirSync(installed).sort(), ['hoist.d.ts', 'hoist.js', 'package.json']);
  assert.equal(readFileSync(join(installed, 'hoist.js'), 'utf8'), readFileSync(join(WEB, 'hoist.js'), 'utf8'));
  const script = `const m = await import(${JSON.stringify(NAME)}); console.log(JSON.stringify({ at: import.meta.resolve(${JSON.stringify(NAME)}), names: Object.keys(m), type: typeof m.uploadMany }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app(), encoding: 'utf8' }));
  assert.equal(out.at, pathToFileURL(join(installed, 'hoist.js')).href);
  assert.equal(out.type, 'function');
  assert.ok(out.names.includes('upload') && out.names.includes('uploadMany'));
});

test('the example type-checks with tsc --strict against the installed declarations', () => {
  writeFileSync(join(app(), 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'ESNext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      skipLibCheck: false,
      types: [],
    },
    include: ['src/**/*.ts'],
  }));
  try {
    execFileSync(process.execPath, [TSC, '--project', join(app(), 'tsconfig.json'), '--noEmit', '--strict', '--traceResolution'], { cwd: app(), encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc failed:\n${(err.stdout || '').split('\n').filter((l) => /error TS/.test(l)).join('\n') || err.stdout}${err.stderr || ''}`);
  }
  // The types came from the package's `exports` ("types"), not from a path of their own.
  const trace = execFileSync(process.execPath, [TSC, '--project', join(app(), 'tsconfig.json'), '--traceResolution'], { cwd: app(), encoding: 'utf8' });
  assert.match(trace, new RegExp(`Module name '${NAME}' was successfully resolved to '[^']*node_modules/${NAME}/hoist\\.d\\.ts'`));
});

test('a type error in a use of the package is caught (the check can fail)', () => {
  const bad = join(app(), 'src', 'bad.ts');
  writeFileSync(bad, `import { uploadMany } from '${NAME}';\nconst q = uploadMany([], { concurrency: 'four' });\nq.files[0].path = 1;\n`);
  try {
    let failed = '';
    try {
      execFileSync(process.execPath, [TSC, '--project', join(app(), 'tsconfig.json')], { cwd: app(), encoding: 'utf8' });
    } catch (err) {
      failed = err.stdout;
    }
    assert.match(failed, /bad\.ts.*error TS2322/s);
  } finally {
    rmSync(bad);
  }
});

test('esbuild bundles the example from the installed package', async () => {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(app(), 'src', 'bundler.ts')],
    absWorkingDir: app(),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(out.metafile.inputs);
  assert.ok(inputs.some((p) => p.endsWith(`node_modules/${NAME}/hoist.js`)), `inputs: ${inputs.join(', ')}`);
  const text = out.outputFiles[0].text;
  assert.match(text, /\/v1\/uploads\/batch/, 'the queue is in the bundle');
  assert.doesNotMatch(text, /from\s+["']@hoist-rs/, 'an import was left unbundled');
});

test('every export of hoist.js is declared in hoist.d.ts, and every declared value exists', async () => {
  const runtime = Object.keys(await import(pathToFileURL(join(WEB, 'hoist.js')).href)).sort();
  const program = ts.createProgram([join(WEB, 'hoist.d.ts')], { strict: true, noEmit: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'] });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diagnostics, [], 'hoist.d.ts has errors');
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(WEB, 'hoist.d.ts'));
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source));
  const values = exported.filter((s) => s.flags & ts.SymbolFlags.Value).map((s) => s.name).sort();
  assert.deepEqual(values, runtime);
  for (const name of ['upload', 'uploadMany', 'forget', 'remembered', 'pending', 'HoistError', 'DEFAULTS', 'classifyStore', 'describeCause', 'Md5', 'md5OfBlob', 'backoffDelay', 'MiB']) {
    assert.ok(runtime.includes(name), name);
  }
  // The declared DEFAULTS are the module's, key for key.
  const { DEFAULTS } = await import(pathToFileURL(join(WEB, 'hoist.js')).href);
  const declared = checker.getTypeOfSymbolAtLocation(exported.find((s) => s.name === 'DEFAULTS'), source).getProperties().map((p) => p.name).sort();
  assert.deepEqual(declared, Object.keys(DEFAULTS).sort());
});
