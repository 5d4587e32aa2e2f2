import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { projectRoot } from '../core/paths.js';
import { startFerretDB } from './ferretdb.process.js';

/**
 * The embedded default database (no MONGODB_URI, outside production). In this order:
 *  1. a `mongod` already on the machine (MONGOMS_SYSTEM_BINARY, or one cached by mongodb-memory-server);
 *  2. FerretDB 1.24.2 on SQLite, built by scripts/build-ferretdb.mjs where Go is installed;
 *  3. a `mongod` downloaded by mongodb-memory-server (a connected laptop with no Go).
 * Nothing touches the network while 1 or 2 can serve. Data stays in `dataDir`, so a restart keeps it.
 */
export type EmbeddedKind = 'system-mongod' | 'ferretdb' | 'downloaded-mongod';

export interface EmbeddedDatabase {
  kind: EmbeddedKind;
  uri: string;
  pid: number | undefined;
  /** FerretDB's debug handler (pprof, metrics) on loopback, for benchmarks' profiles. */
  debugUrl?: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  toolsDir: string;
  ferretdbBin?: string | undefined;
  mongodSystemBinary?: string | undefined;
  allowDownload: boolean;
  logger: Logger;
}

async function locateCachedMongod(): Promise<string | undefined> {
  try {
    const { DryMongoBinary } = await import('mongodb-memory-server-core');
    // Only looks at the local cache and well-known paths: never downloads.
    return await DryMongoBinary.locateBinary(DryMongoBinary.getEnsuredOptions());
  } catch {
    return undefined;
  }
}

async function startMongod(
  dataDir: string,
  systemBinary: string | undefined,
  logger: Logger,
): Promise<{ uri: string; pid: number | undefined; stop(): Promise<void> }> {
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dbPath = path.join(dataDir, 'mongod');
  fs.mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath, ip: '127.0.0.1', storageEngine: 'wiredTiger' },
    ...(systemBinary ? { binary: { systemBinary } } : {}),
  });
  logger.debug({ dbPath }, 'mongod started');
  return {
    uri: server.getUri(),
    pid: server.instanceInfo?.instance.mongodProcess?.pid,
    stop: async () => {
      await server.stop({ doCleanup: false, force: false });
    },
  };
}

function ensureFerretDBBinary(options: EmbeddedOptions): string | undefined {
  const bin = options.ferretdbBin ?? path.join(options.toolsDir, 'bin', 'ferretdb');
  if (options.ferretdbBin) return fs.existsSync(bin) ? bin : undefined;
  const script = path.join(projectRoot, 'scripts', 'build-ferretdb.mjs');
  if (!fs.existsSync(script)) return fs.existsSync(bin) ? bin : undefined;
  // Idempotent: returns at once when the right version is already built.
  const result = spawnSync(process.execPath, [script, '--tools-dir', options.toolsDir], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status === 0 && fs.existsSync(bin)) return bin;
  if (result.status !== 3) options.logger.warn({ status: result.status }, 'building FerretDB failed');
  return undefined;
}

export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  fs.mkdirSync(options.dataDir, { recursive: true });

  const systemMongod = options.mongodSystemBinary ?? (await locateCachedMongod());
  if (systemMongod) {
    logger.info(
      { binary: systemMongod, dataDir: options.dataDir },
      'starting the embedded database: local mongod',
    );
    return { kind: 'system-mongod', ...(await startMongod(options.dataDir, systemMongod, logger)) };
  }

  const ferretdb = ensureFerretDBBinary(options);
  if (ferretdb) {
    logger.info(
      { binary: ferretdb, dataDir: options.dataDir },
      'starting the embedded database: FerretDB on SQLite',
    );
    const proc = await startFerretDB({
      bin: ferretdb,
      dataDir: path.join(options.dataDir, 'ferretdb'),
      logger,
    });
    return { kind: 'ferretdb', ...proc };
  }

  if (!options.allowDownload) {
    throw new Error(
      'No database server available: set MONGODB_URI, install Go (to build FerretDB), point ' +
        'MONGOMS_SYSTEM_BINARY at a mongod, or allow EMBEDDED_DB_ALLOW_DOWNLOAD.',
    );
  }
  logger.warn('no mongod and no Go toolchain: downloading a mongod with mongodb-memory-server');
  return { kind: 'downloaded-mongod', ...(await startMongod(options.dataDir, undefined, logger)) };
}
