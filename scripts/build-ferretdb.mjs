#!/usr/bin/env node
// Builds FerretDB (Apache-2.0) from the Go module proxy into the git-ignored tools folder, once.
//
// `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` alone produces a binary that panics at
// start: FerretDB's build expects a generated build/version/version.txt that the module archive does not
// carry. FerretDB's own message says to create that file, so we take the module from the Go module cache,
// add the version file, and `go build` it. Exit codes: 0 built or already there, 3 no Go toolchain, 1 failure.
//
// Source patches are applied (docs/adr/0006-id-addressed-pages.md, docs/adr/0013-index-served-filters.md,
// docs/adr/0026-postgresql-index-served-filters.md): FerretDB 1.24's SQLite backend creates every index but
// hands SQLite no condition except an `_id` alone, written with an expression the `_id_` index does not match,
// and its PostgreSQL backend writes equality with an operator no btree serves, so every read scanned the whole
// table. The patches push equality and `$in` on `_id` or on indexed fields down as a WHERE clause those
// indexes serve (array values through an index of their own); FerretDB filters the rows again, so results are
// identical (tests/integration/ferretdb-differential.test.ts compares them with an unpatched build on both).
// The Dockerfile's `ferretdb` target runs this script too, for docker-compose.yml's FerretDB on PostgreSQL.
//
// One dependency is patched too (DEPENDENCY_PATCHES, docs/adr/0043-sqlite-busy-wait.md): the SQLite FerretDB
// links waits for its write lock in sleeps of 50 µs to 1 ms instead of SQLite's 1, 2, 5, 10... ms.
//
// `--upstream` builds the same version without patches, as `bin/ferretdb-upstream`, for that comparison.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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
const upstream = process.argv.includes('--upstream');
const bin = path.join(toolsDir, 'bin', upstream ? 'ferretdb-upstream' : 'ferretdb');
const stamp = `${bin}.patches`;
const log = (msg) => process.stderr.write(`[ferretdb-build] ${msg}\n`);

/**
 * Source patches: file, the exact text FerretDB ships, and what we put instead. Each is an ADR with a test
 * that fails without it (tests/integration/ferretdb-build.test.ts, database.test.ts).
 */
const PATCHES = [
  {
    // ADR 0006: the `_id` lookup is written with the `_id_` index's own expression, so SQLite uses the index.
    name: 'sqlite-id-index',
    file: 'internal/backends/sqlite/metadata/metadata.go',
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: 'IDColumn = DefaultColumn + `->"_id"`',
  },
  {
    // ADR 0013 (replaces 0012): equality and `$in` on `_id` or on an index's leading field are served by that
    // index (scripts/ferretdb/ensemble_pushdown.go). A filter with nothing to push reads the table as before;
    // a missing filter (`count` with no query, `aggregate` not starting with `$match`) is handled, where
    // 0012's `Filter.Has` dereferenced it and crashed the server. A limited find whose whole filter can be
    // answered exactly also has its sort and limit served by SQLite.
    name: 'sqlite-index-pushdown',
    file: 'internal/backends/sqlite/collection.go',
    from: 'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)\n\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n\t\t}\n\t}',
    to: 'whereClause, args, _ = ensembleClauses(ctx, db, meta, params.Filter, params.EnsembleFilter, params.EnsembleSort, params.EnsembleLimit)',
  },
  {
    // The same for `explain`, so that a plan shows what runs (FerretDB reports SQLite's EXPLAIN QUERY PLAN).
    name: 'sqlite-index-pushdown-explain',
    file: 'internal/backends/sqlite/collection.go',
    from: 'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n\t\tswitch v.(type) {\n\t\tcase string, types.ObjectID:\n\t\t\tfilterPushdown = true\n\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)\n\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n\t\t}\n\t}',
    to: 'whereClause, args, _ = ensembleClauses(ctx, db, meta, params.Filter, params.EnsembleFilter, params.EnsembleSort, params.EnsembleLimit)\n\tfilterPushdown = whereClause != ""',
  },
  {
    // The whole filter, the sort and skip + limit of a limited find travel to the backend beside the filter
    // FerretDB pushes (which has dotted keys removed); the backend uses them only when it can answer exactly.
    name: 'backend-query-exact-params',
    file: 'internal/backends/collection.go',
    from: 'type QueryParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n',
    to: 'type QueryParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n\n\tEnsembleFilter *types.Document\n\tEnsembleSort   *types.Document\n\tEnsembleLimit  int64\n',
  },
  {
    name: 'backend-explain-exact-params',
    file: 'internal/backends/collection.go',
    from: 'type ExplainParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n',
    to: 'type ExplainParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n\n\tEnsembleFilter *types.Document\n\tEnsembleSort   *types.Document\n\tEnsembleLimit  int64\n',
  },
  {
    name: 'find-exact-params',
    file: 'internal/handler/msg_find.go',
    from: '\th.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))',
    to: '\tif !h.DisablePushdown && params.Filter.Len() != 0 && params.Limit > 0 && !cInfo.Capped() {\n\t\tqp.EnsembleFilter, qp.EnsembleSort, qp.EnsembleLimit = params.Filter, params.Sort, params.Limit+params.Skip\n\t}\n\n\th.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))',
  },
  {
    name: 'explain-exact-params',
    file: 'internal/handler/msg_explain.go',
    from: '\tres, err := coll.Explain(connCtx, qp)',
    to: '\tif !h.DisablePushdown && !params.Aggregate && params.Filter.Len() != 0 && params.Limit > 0 && !cInfo.Capped() {\n\t\tqp.EnsembleFilter, qp.EnsembleSort, qp.EnsembleLimit = params.Filter, params.Sort, params.Limit+params.Skip\n\t}\n\n\tres, err := coll.Explain(connCtx, qp)',
  },
  {
    // ADR 0013: array values of indexed fields are found through a side table per field
    // (scripts/ferretdb/ensemble_multikey.go), made when an index is created and when a database is opened;
    // an update rewrites a document's entry only when the array changed (ADR 0047).
    name: 'sqlite-multikey-on-create',
    file: 'internal/backends/sqlite/metadata/registry.go',
    from: '\t\tcreated = append(created, index.Name)\n',
    to: '\t\tif len(index.Key) > 0 && !EnsembleOrdered(index) {\n\t\t\tif err := ensembleMultikeyEnsure(ctx, db, c.TableName, index.Key[0].Field); err != nil {\n\t\t\t\t_ = r.indexesDrop(ctx, dbName, collectionName, created)\n\t\t\t\treturn lazyerrors.Error(err)\n\t\t\t}\n\t\t}\n\n\t\tcreated = append(created, index.Name)\n',
  },
  {
    // ADR 0013, "Ordered walks": an index named `ordered_...` is made with its last key as BSON orders it
    // (scripts/ferretdb/ensemble_ordered.go), so a sorted page can be read in its order.
    name: 'sqlite-ordered-indexes',
    file: 'internal/backends/sqlite/metadata/registry.go',
    from: '\t\tq = fmt.Sprintf(\n\t\t\tq,\n\t\t\tc.TableName+"_"+index.Name,',
    to: '\t\tif EnsembleOrdered(index) {\n\t\t\tcolumns = EnsembleOrderedColumns(index)\n\t\t}\n\n\t\tq = fmt.Sprintf(\n\t\t\tq,\n\t\t\tc.TableName+"_"+index.Name,',
  },
  {
    name: 'sqlite-multikey-on-open',
    file: 'internal/backends/sqlite/metadata/registry.go',
    from: '\tr.colls[dbName] = colls\n\n\treturn nil\n}',
    to: '\tfor _, c := range colls {\n\t\tif err = ensembleMultikeyIndexes(ctx, db, c); err != nil {\n\t\t\treturn lazyerrors.Error(err)\n\t\t}\n\t}\n\n\tr.colls[dbName] = colls\n\n\treturn nil\n}',
  },
  {
    // ADR 0013: every write transaction takes SQLite's write lock when it begins (`BEGIN IMMEDIATE`), waiting
    // for it with the busy timeout. A deferred transaction whose first statement reads (preparing a trigger
    // that writes an FTS5 side table reads its configuration) could not upgrade to a writer once another
    // connection had committed, and failed at once with SQLITE_BUSY. FerretDB writes only in transactions and
    // reads outside them, so nothing is serialised that was not already.
    name: 'sqlite-immediate-transactions',
    file: 'internal/backends/sqlite/metadata/pool/uri.go',
    from: '\tif !autoVacuum {\n\t\tvalues.Add("_pragma", "auto_vacuum(none)")',
    to: '\tif !values.Has("_txlock") {\n\t\tvalues.Set("_txlock", "immediate")\n\t}\n\n\tif !autoVacuum {\n\t\tvalues.Add("_pragma", "auto_vacuum(none)")',
  },
  {
    // ADR 0026: on PostgreSQL, equality and `$in` of strings, ObjectIds and booleans on `_id` or on an indexed
    // field are written with the btree's own expression (`_jsonb->'f' = ANY(...)`) and array values through
    // the field's array index (scripts/ferretdb/ensemble_pg_pushdown.go); upstream's `@>` could use no index.
    // A limited find whose whole filter can be answered exactly also has its sort and limit served there.
    name: 'postgresql-index-pushdown',
    file: 'internal/backends/postgresql/collection.go',
    from: 'where, args, err = prepareWhereClause(&placeholder, params.Filter)',
    to: 'where, args, err = ensembleClauses(ctx, p, &placeholder, c.dbName, meta, params.Filter, params.EnsembleFilter, params.EnsembleSort, params.EnsembleLimit)',
  },
  {
    // The same for `explain`, so that a plan shows what runs (FerretDB reports PostgreSQL's EXPLAIN).
    name: 'postgresql-index-pushdown-explain',
    file: 'internal/backends/postgresql/collection.go',
    from: 'where, args, err := prepareWhereClause(&placeholder, params.Filter)',
    to: 'where, args, err := ensembleClauses(ctx, p, &placeholder, c.dbName, meta, params.Filter, params.EnsembleFilter, params.EnsembleSort, params.EnsembleLimit)',
  },
  {
    // ADR 0026: the leading field of every index gets a GIN index over its array values
    // (scripts/ferretdb/ensemble_pg_multikey.go), made with the index, and when a database is opened for
    // indexes made before (by the upstream FerretDB too).
    name: 'postgresql-multikey-on-create',
    file: 'internal/backends/postgresql/metadata/registry.go',
    from: '\t\tcreated = append(created, index.Name)\n\t\tc.Indexes = append(c.Indexes, index)\n',
    to: '\t\tcreated = append(created, index.Name)\n\t\tc.Indexes = append(c.Indexes, index)\n\n\t\tif len(index.Key) > 0 {\n\t\t\tif err := ensembleMultikeyEnsure(ctx, p, dbName, c.TableName, index.Key[0].Field, nil); err != nil {\n\t\t\t\tr.l.WarnContext(ctx, "ensemble: cannot make an array index", "table", c.TableName, "error", err)\n\t\t\t}\n\t\t}\n',
  },
  {
    name: 'postgresql-multikey-on-open',
    file: 'internal/backends/postgresql/metadata/registry.go',
    from: '\tr.colls[dbName] = colls\n\n\treturn nil\n}',
    to: '\tfor _, c := range colls {\n\t\tensembleMultikeyIndexes(ctx, p, dbName, c, r.l)\n\t}\n\n\tr.colls[dbName] = colls\n\n\treturn nil\n}',
  },
  {
    // ADR 0037: a request flagged moreToCome (an unacknowledged write, `w: 0`) is answered by nothing, as the
    // wire protocol says. FerretDB 1.24 answered it; the driver does not read that answer, so the next
    // command on the connection read it instead (a find got `{n, ok: 1}`: "cursor is missing"), and every
    // command after that the answer of the one before.
    name: 'no-answer-to-more-to-come',
    file: 'internal/clientconn/conn.go',
    from: '\t\tif resHeader == nil || resBody == nil {\n\t\t\tpanic("no response to send to client")\n\t\t}',
    to: '\t\tif m, ok := reqBody.(*wire.OpMsg); ok && m.Flags.FlagSet(wire.OpMsgMoreToCome) && !resCloseConn {\n\t\t\tcontinue\n\t\t}\n\n\t\tif resHeader == nil || resBody == nil {\n\t\t\tpanic("no response to send to client")\n\t\t}',
  },
  {
    // ADR 0040: FerretDB tracks the lifetime of every iterator, cursor and SQL result it opens by adding it to
    // a pprof profile of its own, which records the caller's stack each time: 14-17 % of the database's CPU
    // for a find by `_id`. Outside debug builds the objects are tracked by their finalizer alone (a leak
    // still panics, as upstream), without the profile and its stacks.
    name: 'resource-tracking-without-profiles',
    file: 'internal/util/resource/resource.go',
    from: 'func Track(obj any, token *Token) {\n\tcheckArgs(obj, token)\n',
    to: 'func Track(obj any, token *Token) {\n\tif !debugbuild.Enabled {\n\t\truntime.SetFinalizer(obj, func(obj any) {\n\t\t\tpanic(fmt.Sprintf("%T has not been finalized", obj))\n\t\t})\n\n\t\treturn\n\t}\n\n\tcheckArgs(obj, token)\n',
  },
  {
    // ADR 0040: the other half (an object tracked without the profile is untracked without it).
    name: 'resource-untracking-without-profiles',
    file: 'internal/util/resource/resource.go',
    from: 'func Untrack(obj any, token *Token) {\n\tcheckArgs(obj, token)\n',
    to: 'func Untrack(obj any, token *Token) {\n\tif !debugbuild.Enabled {\n\t\truntime.SetFinalizer(obj, nil)\n\n\t\treturn\n\t}\n\n\tcheckArgs(obj, token)\n',
  },
];
/**
 * Patches to FerretDB's dependencies: the module (at the version FerretDB's go.mod asks for) is copied next to
 * the source and used instead of the proxy's (`go mod edit -replace`). Each replaces, in every file of `dir`
 * that has it, a whole function from `func <name>(` to its closing brace, and adds `added` beside it.
 */
const DEPENDENCY_PATCHES = [
  {
    // ADR 0043: a writer waiting for SQLite's write lock tries again after 50 µs, growing to 1 ms, instead of
    // the default busy handler's 1, 2, 5, 10... ms (scripts/ferretdb/ensemble_busy_wait.go).
    name: 'sqlite-busy-wait',
    module: 'modernc.org/sqlite',
    dir: 'lib',
    func: '_sqliteDefaultBusyCallback',
    to: 'func _sqliteDefaultBusyCallback(tls *libc.TLS, ptr uintptr, count int32) (r int32) {\n\treturn ensembleBusyWait(tls, ptr, count)\n}',
    added: ['ensemble_busy_wait.go', 'lib/ensemble_busy_wait.go'],
    platformFile: (goos, goarch) =>
      goos === 'windows' ? 'sqlite_windows.go' : `sqlite_${goos}_${goarch}.go`,
  },
];
/** Files of Ensemble's own added to FerretDB's source: [from scripts/ferretdb/, to the source folder]. */
const ADDED = [
  ['ensemble_pushdown.go', 'internal/backends/sqlite/ensemble_pushdown.go'],
  ['ensemble_multikey.go', 'internal/backends/sqlite/metadata/ensemble_multikey.go'],
  ['ensemble_ordered.go', 'internal/backends/sqlite/metadata/ensemble_ordered.go'],
  ['ensemble_pg_pushdown.go', 'internal/backends/postgresql/ensemble_pushdown.go'],
  ['ensemble_pg_multikey.go', 'internal/backends/postgresql/metadata/ensemble_multikey.go'],
];
const hashOf = (name) =>
  createHash('sha256')
    .update(fs.readFileSync(path.join(root, 'scripts', 'ferretdb', name)))
    .digest('hex')
    .slice(0, 16);
const PATCH_STAMP = upstream
  ? 'upstream'
  : [
      ...PATCHES.map((p) => p.name),
      ...ADDED.map(([name]) => `${name}@${hashOf(name)}`),
      ...DEPENDENCY_PATCHES.map((p) => `${p.module}:${p.name}@${hashOf(p.added[0])}`),
    ].join('\n');

function builtVersion() {
  if (!fs.existsSync(bin)) return undefined;
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8').trim() !== PATCH_STAMP) return undefined;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return /version: (v[\d.]+)/.exec(r.stdout ?? '')?.[1];
}

/** Copy a dependency of FerretDB's next to its source, patch it there and build with it (DEPENDENCY_PATCHES). */
function patchDependency(src, patch, env) {
  const required = new RegExp(`^\\s*${patch.module.replace(/[.]/g, '\\.')} (v\\S+)`, 'm').exec(
    fs.readFileSync(path.join(src, 'go.mod'), 'utf8'),
  )?.[1];
  if (!required) throw new Error(`patch ${patch.name}: FerretDB's go.mod does not require ${patch.module}`);
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `${patch.module}@${required}`], {
      env,
      encoding: 'utf8',
    }),
  );
  if (!info.Dir) throw new Error(`go mod download gave no directory for ${patch.module}`);
  const into = path.join(src, 'ensemble-deps', patch.module.replace(/\//g, '_'));
  // The module without its test data (87 MB of it for modernc.org/sqlite) and tests.
  fs.cpSync(info.Dir, into, {
    recursive: true,
    filter: (from) =>
      !/[/\\]testdata([/\\]|$)/.test(path.relative(info.Dir, from)) && !from.endsWith('_test.go'),
  });
  execFileSync('chmod', ['-R', 'u+w', into]);
  const dir = path.join(into, patch.dir);
  const start = `func ${patch.func}(`;
  let patched = 0;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.go'))) {
    const file = path.join(dir, name);
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf(start);
    if (at < 0) continue;
    const end = text.indexOf('\n}\n', at);
    if (end < 0) throw new Error(`patch ${patch.name}: ${name} has no end to ${patch.func}`);
    fs.writeFileSync(file, text.slice(0, at) + patch.to + text.slice(end + 2));
    patched++;
  }
  // The file Go builds here (GOOS, GOARCH) must be one of them.
  const [goos, goarch] = execFileSync('go', ['env', 'GOOS', 'GOARCH'], { env, encoding: 'utf8' })
    .trim()
    .split('\n');
  const built = path.join(dir, patch.platformFile(goos, goarch));
  if (!fs.existsSync(built) || !fs.readFileSync(built, 'utf8').includes(patch.to))
    throw new Error(`patch ${patch.name}: ${patch.module}'s ${path.basename(built)} has changed`);
  fs.copyFileSync(path.join(root, 'scripts', 'ferretdb', patch.added[0]), path.join(into, patch.added[1]));
  execFileSync('go', ['mod', 'edit', `-replace=${patch.module}=./${path.relative(src, into)}`], {
    cwd: src,
    env,
  });
  log(`patched ${patch.module} ${required} (${patch.name}, ${patched} files)`);
}

if (builtVersion() === FERRETDB_VERSION) {
  log(`FerretDB ${FERRETDB_VERSION}${upstream ? ' (unpatched)' : ''} already built at ${bin}`);
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
let src;
log(`building FerretDB ${FERRETDB_VERSION} with ${go.stdout.trim()} (takes a minute or two, once)`);
try {
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `${MODULE}@${FERRETDB_VERSION}`], {
      env,
      encoding: 'utf8',
    }),
  );
  if (!info.Dir) throw new Error(`go mod download gave no directory: ${info.Error ?? 'unknown error'}`);
  // A source folder of this build's own: two test files asking for the same build at once (each worker
  // builds what is missing) must not remove or patch each other's source; each renames its binary into place.
  src = path.join(
    toolsDir,
    'src',
    `ferretdb-${FERRETDB_VERSION}${upstream ? '-upstream' : ''}-${process.pid}`,
  );
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(src), { recursive: true });
  fs.cpSync(info.Dir, src, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', src]);
  fs.writeFileSync(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
  fs.writeFileSync(path.join(src, 'build', 'version', 'package.txt'), 'ensemble-source-build\n');
  for (const patch of upstream ? [] : PATCHES) {
    const file = path.join(src, patch.file);
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes(patch.from)) throw new Error(`patch ${patch.name}: ${patch.file} has changed`);
    fs.writeFileSync(file, text.replace(patch.from, patch.to));
  }
  for (const [name, to] of upstream ? [] : ADDED)
    fs.copyFileSync(path.join(root, 'scripts', 'ferretdb', name), path.join(src, to));
  for (const patch of upstream ? [] : DEPENDENCY_PATCHES) patchDependency(src, patch, env);
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
  if (src) fs.rmSync(src, { recursive: true, force: true });
  process.exit(1);
}
const version = builtVersion();
if (version !== FERRETDB_VERSION) {
  log(`built binary reports ${version ?? 'no version'}, expected ${FERRETDB_VERSION}`);
  process.exit(1);
}
log(`FerretDB ${version} built at ${bin} in ${Math.round((Date.now() - started) / 1000)} s`);
