import http from 'node:http';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './core/logger.js';
import { connectDatabase, type Database } from './db/client.js';
import { ensureCollections } from './db/collections.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { composeNode } from './node.js';

/** Process entry: config, database, HTTP, graceful shutdown. Everything else is composed in node.ts. */

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee docs/configuration.md for every variable.\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

async function openDatabase(config: Config, logger: Logger) {
  let embedded: EmbeddedDatabase | undefined;
  let uri = config.database.uri;
  if (!uri) {
    embedded = await startEmbeddedDatabase({
      dataDir: config.database.dataDir,
      toolsDir: config.database.toolsDir,
      ferretdbBin: config.database.ferretdbBin,
      mongodSystemBinary: config.database.mongodSystemBinary,
      allowDownload: config.database.allowDownload,
      logger,
    });
    uri = embedded.uri;
    logger.info({ kind: embedded.kind, pid: embedded.pid }, 'embedded database started');
  }
  try {
    const database = await connectDatabase({ uri, dbName: config.database.name, logger });
    await ensureCollections(database.db, logger);
    return { database, embedded };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

function listen(server: http.Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config);
  logger.info({ env: config.env }, 'Ensemble starting');

  let shuttingDown = false;
  let database: Database | undefined;
  let embedded: EmbeddedDatabase | undefined;
  try {
    ({ database, embedded } = await openDatabase(config, logger));
  } catch (err) {
    logger.fatal({ err }, 'could not open the database');
    process.exitCode = 1;
    return;
  }

  const node = await composeNode({
    config,
    logger,
    client: database.client,
    db: database.db,
    lifecycle: { isShuttingDown: () => shuttingDown },
  });
  const server = http.createServer(node.app);
  try {
    await listen(server, config);
  } catch (err) {
    logger.fatal({ err, port: config.port }, 'could not listen');
    await node.close();
    await database.close();
    await embedded?.stop();
    process.exitCode = 1;
    return;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, url: config.publicUrl }, `Ensemble is running at ${config.publicUrl}`);

  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // Stop accepting, let in-flight requests finish, then cut whatever is left after the timeout.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), config.http.shutdownTimeoutMs);
    force.unref();
    await closed;
    clearTimeout(force);
    await database
      .close()
      .catch((err: unknown) => logger.error({ err }, 'closing the database client failed'));
    await embedded
      ?.stop()
      .catch((err: unknown) => logger.error({ err }, 'stopping the embedded database failed'));
    logger.info('stopped');
    process.exitCode = 0;
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
}

void main().catch((err: unknown) => {
  process.stderr.write(
    `Ensemble failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
