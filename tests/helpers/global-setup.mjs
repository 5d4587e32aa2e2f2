// Start one real database server for the whole test run: TEST_MONGODB_URI when given (e.g. a MongoDB
// replica set), otherwise the embedded default (a local mongod, else FerretDB) in a throw-away folder.
// Plain ESM (jest loads global setup outside its transform); the TypeScript launcher is loaded with tsx.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';
import pino from 'pino';

export default async function globalSetup() {
  // The web client the e2e tests drive and server/web serves (a no-op when it is up to date).
  const { buildClient } = await import('../../scripts/build-client.mjs');
  await buildClient();
  if (process.env.TEST_MONGODB_URI) {
    process.env.ENSEMBLE_TEST_MONGODB_URI = process.env.TEST_MONGODB_URI;
    return;
  }
  const { startEmbeddedDatabase } = await tsImport('../../server/db/embedded.ts', import.meta.url);
  const { projectRoot } = await tsImport('../../server/core/paths.ts', import.meta.url);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-test-db-'));
  const database = await startEmbeddedDatabase({
    dataDir,
    toolsDir: process.env.TOOLS_DIR ?? path.join(projectRoot, '.tools'),
    mongodSystemBinary: process.env.MONGOMS_SYSTEM_BINARY,
    allowDownload: true,
    logger: pino({ level: process.env.TEST_DB_LOG_LEVEL ?? 'warn' }),
  });
  process.env.ENSEMBLE_TEST_MONGODB_URI = database.uri;
  process.env.ENSEMBLE_TEST_DB_KIND = database.kind;
  globalThis.__ENSEMBLE_TEST_DB__ = { database, dataDir };
}
