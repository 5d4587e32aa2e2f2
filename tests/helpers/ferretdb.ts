import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { projectRoot } from '../../server/core/paths.js';
import { startFerretDB, type ManagedDatabaseProcess } from '../../server/db/ferretdb.process.js';

const toolsDir = process.env.TOOLS_DIR ?? path.join(projectRoot, '.tools');

/**
 * The project's FerretDB build (`patched`) or the same version built without Ensemble's patches
 * (`upstream`), built by scripts/build-ferretdb.mjs when missing. Undefined without a Go toolchain.
 */
export function ferretdbBinary(which: 'patched' | 'upstream'): string | undefined {
  const args = [path.join(projectRoot, 'scripts', 'build-ferretdb.mjs'), '--tools-dir', toolsDir];
  if (which === 'upstream') args.push('--upstream');
  const built = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status === 3) return undefined;
  if (built.status !== 0) throw new Error(`building FerretDB (${which}) failed: ${built.status}`);
  return path.join(toolsDir, 'bin', which === 'upstream' ? 'ferretdb-upstream' : 'ferretdb');
}

export interface PrivateFerretDB {
  server: ManagedDatabaseProcess;
  client: MongoClient;
  /** Its folder (a SQLite-backed server keeps its databases in `sqlite/`, one `<database>.sqlite` file each). */
  dataDir: string;
  /** Ask the Go runtime to collect garbage now (runs finalizers, where FerretDB's leak checks panic). */
  collectGarbage(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A FerretDB server of its own for one test file, on a throw-away folder (SQLite), or on a PostgreSQL
 * database when given its URL (tests/helpers/postgresql.ts).
 */
export async function startPrivateFerretDB(
  bin: string,
  options: { postgresqlUrl?: string; sqliteParams?: string[]; onError?: (line: string) => void } = {},
): Promise<PrivateFerretDB> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-ferretdb-'));
  const { onError } = options;
  const server = await startFerretDB({
    bin,
    dataDir,
    // FerretDB's errors (a query PostgreSQL or SQLite refused among them) reach onError, one JSON line each.
    logger: onError
      ? pino({ level: 'error' }, { write: (line: string) => onError(line) })
      : pino({ level: 'silent' }),
    ...(options.postgresqlUrl ? { postgresqlUrl: options.postgresqlUrl } : {}),
    ...(options.sqliteParams ? { sqliteParams: options.sqliteParams } : {}),
  });
  const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 3000 });
  await client.connect();
  return {
    server,
    client,
    dataDir,
    collectGarbage: async () => {
      // pprof's heap profile runs a garbage collection first when asked with gc=1.
      const res = await fetch(`${server.debugUrl}/debug/pprof/heap?gc=1`);
      await res.arrayBuffer();
    },
    stop: async () => {
      await client.close().catch(() => undefined);
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * `describe` when both the project's build and upstream's can be had (a Go toolchain), else `describe.skip`.
 * Builds what is missing, once.
 */
export function describeBothBuilds(): typeof describe | typeof describe.skip {
  return ferretdbBinary('patched') && ferretdbBinary('upstream') ? describe : describe.skip;
}

/**
 * The project's build and upstream's, each started privately for the `describe` block that calls this (in
 * its beforeAll, stopped in its afterAll): read `patched` and `upstream` inside the tests.
 */
export function bothBuilds(): { readonly patched: PrivateFerretDB; readonly upstream: PrivateFerretDB } {
  const running: { patched?: PrivateFerretDB; upstream?: PrivateFerretDB } = {};
  beforeAll(async () => {
    [running.patched, running.upstream] = await Promise.all([
      startPrivateFerretDB(ferretdbBinary('patched')!),
      startPrivateFerretDB(ferretdbBinary('upstream')!),
    ]);
  });
  afterAll(async () => {
    await running.patched?.stop();
    await running.upstream?.stop();
  });
  return {
    get patched() {
      return running.patched!;
    },
    get upstream() {
      return running.upstream!;
    },
  };
}
