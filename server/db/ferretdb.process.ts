import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import type { Logger } from '../core/logger.js';
import { freePort } from '../core/net.js';

export interface ManagedDatabaseProcess {
  uri: string;
  pid: number;
  /** FerretDB's debug handler (pprof, metrics), on loopback. */
  debugUrl?: string;
  stop(): Promise<void>;
}

export interface FerretDBOptions {
  bin: string;
  /** Holds the SQLite files (`sqlite/`) and FerretDB's state (`state/`); kept across restarts. */
  dataDir: string;
  logger: Logger;
  startTimeoutMs?: number;
  /** Listen on this port (a restart on the same address); a free one otherwise. */
  port?: number;
  /**
   * Serve a PostgreSQL database (`postgres://` URL) instead of SQLite files in `dataDir` (the tests and
   * benchmarks of FerretDB on PostgreSQL, docs/adr/0026-postgresql-index-served-filters.md).
   */
  postgresqlUrl?: string;
  /** More SQLite connection parameters (`_pragma=busy_timeout(20)`): tests of the build's SQLite behaviour. */
  sqliteParams?: string[];
}

const PID_FILE = 'ferretdb.pid';

/**
 * A FerretDB left running by a process that was killed (kill -9 gives us no chance to stop it) would
 * hold this data directory. Stop it before starting a new one; only a FerretDB on this same state
 * directory is touched.
 */
function stopStaleProcess(dataDir: string, stateDir: string, logger: Logger): void {
  const pidFile = path.join(dataDir, PID_FILE);
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  fs.rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('ferretdb') && cmdline.includes(`--state-dir=${stateDir}`)) {
      logger.warn({ pid }, 'stopping a FerretDB left running on this data directory');
      process.kill(pid, 'SIGKILL');
    }
  } catch {
    // Not running (or no /proc): nothing to stop.
  }
}

async function waitForPing(uri: string, child: ChildProcess, deadline: number, stderrTail: () => string) {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `FerretDB exited during start (code ${child.exitCode ?? child.signalCode}): ${stderrTail()}`,
      );
    }
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`FerretDB did not answer on ${uri} in time: ${stderrTail()}`);
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
}

function forwardLogs(child: ChildProcess, logger: Logger, remember: (line: string) => void): void {
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      remember(line);
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        const severity = entry.level?.toUpperCase() ?? '';
        // FerretDB warns on every client disconnect; only its errors (panics among them) are ours to see.
        const level = severity.startsWith('ERROR') ? 'error' : 'debug';
        logger[level]({ ferretdb: entry }, entry.msg ?? 'ferretdb');
      } catch {
        logger.debug(line);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
}

/**
 * Start FerretDB on SQLite (or on PostgreSQL when given its URL) on a free loopback port, with telemetry off,
 * and wait until it answers.
 */
export async function startFerretDB(options: FerretDBOptions): Promise<ManagedDatabaseProcess> {
  const { bin, logger } = options;
  const sqliteDir = path.join(options.dataDir, 'sqlite');
  const stateDir = path.join(options.dataDir, 'state');
  fs.mkdirSync(sqliteDir, { recursive: true });
  fs.mkdirSync(stateDir, { recursive: true });
  stopStaleProcess(options.dataDir, stateDir, logger);

  const [port, debugPort] = [options.port ?? (await freePort()), await freePort()];
  const args = [
    ...(options.postgresqlUrl
      ? ['--handler=postgresql', `--postgresql-url=${options.postgresqlUrl}`]
      : [
          '--handler=sqlite',
          `--sqlite-url=file:${sqliteDir}/?${['_pragma=synchronous(normal)', '_pragma=analysis_limit(1000)', '_pragma=temp_store(memory)', ...(options.sqliteParams ?? [])].join('&')}`,
        ]),
    `--state-dir=${stateDir}`,
    `--listen-addr=127.0.0.1:${port}`,
    `--debug-addr=127.0.0.1:${debugPort}`,
    '--telemetry=disable',
    '--log-level=warn',
    '--log-format=json',
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  forwardLogs(child, logger, (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  });
  const spawned = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  fs.writeFileSync(path.join(options.dataDir, PID_FILE), String(spawned));

  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (!stopping) logger.error({ code, signal }, 'FerretDB exited unexpectedly');
  });

  const uri = `mongodb://127.0.0.1:${port}/`;
  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(path.join(options.dataDir, PID_FILE), { force: true });
  };
  try {
    await waitForPing(uri, child, Date.now() + (options.startTimeoutMs ?? 30_000), () => tail.join('\n'));
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri, pid: spawned, debugUrl: `http://127.0.0.1:${debugPort}`, stop };
}
