import http from 'node:http';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './core/logger.js';
import { connectDatabase, type Database } from './db/client.js';
import { ensureCollections } from './db/collections.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { composeNode, type EnsembleNode } from './node.js';
import { keepConnectionsAlive } from './core/net.js';

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
    const database = await connectDatabase({
      uri,
      dbName: config.database.name,
      logger,
      monitorCommands: config.metrics.enabled,
    });
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

  // Installed before anything starts, so a signal during boot still stops what was started.
  let shuttingDown = false;
  let stopRequested: NodeJS.Signals | undefined;
  let shutdown: (signal: NodeJS.Signals) => Promise<void> = async (signal) => {
    stopRequested = signal;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A node started with an IPC channel (the node launcher, server/ops/launcher.ts) stops when the process
  // that started it goes away, however it ended.
  // A launcher that stops its nodes signals them first and exits once they have: its channel closing during
  // that shutdown is no second signal (which would skip stopping the embedded database).
  if (process.send)
    process.once('disconnect', () => {
      if (!shuttingDown) onSignal('SIGTERM');
    });

  const stopped: (() => Promise<void>)[] = []; // what to stop, last started first
  const stopAll = async () => {
    for (const stop of stopped.reverse()) {
      await stop().catch((err: unknown) => logger.error({ err }, 'stopping a component failed'));
    }
  };

  let database: Database;
  let node: EnsembleNode;
  const server = http.createServer();
  keepConnectionsAlive(server);
  try {
    const opened = await openDatabase(config, logger);
    database = opened.database;
    if (opened.embedded) stopped.push(() => opened.embedded!.stop());
    stopped.push(() => database.close());
    if (stopRequested) throw new Error(`${stopRequested} received during boot`);
    node = await composeNode({
      config,
      logger,
      client: database.client,
      db: database.db,
      lifecycle: { isShuttingDown: () => shuttingDown },
    });
    stopped.push(() => node.close());
    server.on('request', node.app);
    await node.attach(server);
    await listen(server, config);
  } catch (err) {
    logger.fatal({ err }, 'Ensemble could not start');
    await stopAll();
    process.exitCode = stopRequested ? 0 : 1;
    return;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, url: config.publicUrl }, `Ensemble is running at ${config.publicUrl}`);

  shutdown = async (signal) => {
    shuttingDown = true;
    if (config.http.shutdownDrainMs > 0) {
      // Readiness already fails; keep serving while load balancers notice and move traffic away.
      logger.info({ signal, drainMs: config.http.shutdownDrainMs }, 'shutting down: draining');
      await new Promise((r) => setTimeout(r, config.http.shutdownDrainMs));
    }
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // Stop accepting, let in-flight requests finish, then cut whatever is left after the timeout.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), config.http.shutdownTimeoutMs);
    force.unref();
    await closed;
    clearTimeout(force);
    // The node (session sweeper, mailer, development mail catcher), then the database client, then the
    // embedded database server.
    await stopAll();
    logger.info('stopped');
    process.exitCode = 0;
    // A launcher's IPC channel holds the event loop until it is closed.
    if (process.connected) process.disconnect();
    // Everything is stopped; what still holds the event loop (an outgoing keep-alive connection to another
    // node, say) must not keep the process, and the launcher or orchestrator waiting for it, alive.
    setTimeout(() => {
      logger.warn({ open: process.getActiveResourcesInfo() }, 'still running after stop: exiting');
      process.exit(0);
    }, 1000).unref();
  };
  if (stopRequested) await shutdown(stopRequested);
}

void main().catch((err: unknown) => {
  process.stderr.write(
    `Ensemble failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
