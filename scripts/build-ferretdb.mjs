#!/usr/bin/env node
// Builds FerretDB (Apache-2.0) from the Go module proxy into the git-ignored tools folder, once.
//
// `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` alone produces a binary that panics at
// start: FerretDB's build expects a generated build/version/version.txt that the module archive does not
// carry. FerretDB's own message says to create that file, so we take the module from the Go module cache,
// add the version file, and `go build` it. Exit codes: 0 built or already there, 3 no Go toolchain, 1 failure.
//
// Source patches are applied (docs/adr/0006-id-addressed-pages.md, 0012): FerretDB 1.24's SQLite backend looks
// documents up by `_id` with the expression `_ferretdb_sjson->'$._id'`, while the unique `_id_` index it
// creates is on `_ferretdb_sjson->"_id"`. SQLite matches index expressions by their text, so every `_id`
// lookup, update and delete scanned the whole table (upstream: FerretDB issue #4646 for the same fault on
// PostgreSQL). The patch makes the lookup use the index's own expression; results are identical. And it
// pushed an `_id` down only when the filter had nothing else (ADR 0012): with the second patch a filter
// naming an `_id` among other conditions is looked up by `_id` too, then filtered as before.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FERRETDB_VERSION = 'v1.24.2';
const MODULE = 'github.com/FerretDB/FerretDB';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const toolsDir = path.resolve(argValue('--tools-dir') ?? process.env.TOOLS_DIR ?? path.join(root, '.tools'));
const bin = path.join(toolsDir, 'bin', 'ferretdb');
const stamp = `${bin}.patches`;
const log = (msg) => process.stderr.write(`[ferretdb-build] ${msg}\n`);

/** Source patches: file, the exact text FerretDB ships, and what we put instead. */
const PATCHES = [
  {
    name: 'sqlite-id-index',
    file: 'internal/backends/sqlite/metadata/metadata.go',
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: 'IDColumn = DefaultColumn + `->"_id"`',
  },
  {
    // A filter naming an `_id` and other conditions (`{_id, state: 'requested'}`, a conditional update)
    // was read by scanning the table, since only a filter of `_id` alone was pushed down. Every command
    // filters what the backend returns with the whole filter again (`common.FilterIterator`,
    // `FilterDocument`), so looking the `_id` up first returns the same documents.
    name: 'sqlite-id-with-conditions',
    file: 'internal/backends/sqlite/collection.go',
    from: 'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\twhereClause',
    to: 'if params.Filter.Has("_id") {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\twhereClause',
  },
  {
    name: 'sqlite-id-with-conditions-explain',
    file: 'internal/backends/sqlite/collection.go',
    from: 'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\tfilterPushdown = true',
    to: 'if params.Filter.Has("_id") {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\tfilterPushdown = true',
  },
];
const PATCH_STAMP = PATCHES.map((p) => p.name).join('\n');

function builtVersion() {
  if (!fs.existsSync(bin)) return undefined;
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8').trim() !== PATCH_STAMP) return undefined;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return /version: (v[\d.]+)/.exec(r.stdout ?? '')?.[1];
}

if (builtVersion() === FERRETDB_VERSION) {
  log(`FerretDB ${FERRETDB_VERSION} already built at ${bin}`);
  process.exit(0);
}

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.status !== 0) {
  log('no Go toolchain on PATH: cannot build FerretDB here');
  process.exit(3);
}

// Keep the Go toolchain to itself: no telemetry upload, the machine's own toolchain.
const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
const started = Date.now();
log(`building FerretDB ${FERRETDB_VERSION} with ${go.stdout.trim()} (takes a minute or two, once)`);
try {
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `${MODULE}@${FERRETDB_VERSION}`], {
      env,
      encoding: 'utf8',
    }),
  );
  if (!info.Dir) throw new Error(`go mod download gave no directory: ${info.Error ?? 'unknown error'}`);
  const src = path.join(toolsDir, 'src', `ferretdb-${FERRETDB_VERSION}`);
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(src), { recursive: true });
  fs.cpSync(info.Dir, src, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', src]);
  fs.writeFileSync(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
  fs.writeFileSync(path.join(src, 'build', 'version', 'package.txt'), 'ensemble-source-build\n');
  for (const patch of PATCHES) {
    const file = path.join(src, patch.file);
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes(patch.from)) throw new Error(`patch ${patch.name}: ${patch.file} has changed`);
    fs.writeFileSync(file, text.replace(patch.from, patch.to));
  }
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', tmp, './cmd/ferretdb'], {
    cwd: src,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  fs.renameSync(tmp, bin); // atomic: a concurrent reader never sees half a binary
  fs.writeFileSync(stamp, `${PATCH_STAMP}\n`);
  fs.rmSync(src, { recursive: true, force: true });
} catch (err) {
  log(`build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const version = builtVersion();
if (version !== FERRETDB_VERSION) {
  log(`built binary reports ${version ?? 'no version'}, expected ${FERRETDB_VERSION}`);
  process.exit(1);
}
log(`FerretDB ${version} built at ${bin} in ${Math.round((Date.now() - started) / 1000)} s`);
