import fs from 'node:fs';
import path from 'node:path';
import { execFile, fork, spawn } from 'node:child_process';
import os from 'node:os';
import pino from 'pino';
import { loadConfig, type IssuerConfig } from '../server/config.js';
import { freePort } from '../server/core/net.js';
import { connectDatabase, type Database } from '../server/db/client.js';
import { ensureCollections } from '../server/db/collections.js';
import { startEmbeddedDatabase } from '../server/db/embedded.js';
import * as prettier from 'prettier';
import { projectRoot } from '../server/core/paths.js';
import { ApiClient, Browser, signIn } from '../tests/helpers/browser.js';
import { serveNode } from '../tests/helpers/app.js';
import type { TestIdp } from '../tests/helpers/idp.js';

export interface LoadResult {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * Load one URL from a separate process (autocannon's CLI), so the load generator does not share the
 * event loop of the server it measures. Loopback only, bounded in time.
 */
export async function load(
  name: string,
  url: string,
  options: { seconds?: number; connections?: number; headers?: Record<string, string> } = {},
): Promise<LoadResult> {
  const cli = path.join(projectRoot, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [
    cli,
    '--json',
    '-c',
    String(options.connections ?? 20),
    '-d',
    String(options.seconds ?? 5),
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
    url,
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
  const result = JSON.parse(stdout) as {
    requests: { total: number };
    duration: number;
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
    '2xx': number;
    '3xx': number;
  };
  // A 304 is the expected answer to a conditional request; anything else outside 2xx is an error.
  const expected304 = Object.keys(options.headers ?? {}).some((h) => h.toLowerCase() === 'if-none-match');
  const non2xx = expected304 ? result.non2xx - result['3xx'] : result.non2xx;
  return {
    name,
    // Average over the run: total requests / duration (per-second samples are 0 when requests take > 1 s).
    requestsPerSecond: Math.round((result.requests.total / result.duration) * 10) / 10,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + non2xx,
  };
}

export function table(rows: LoadResult[]): string {
  const lines = ['| case | requests/s | p50 (ms) | p99 (ms) | errors |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows)
    lines.push(`| ${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} |`);
  return lines.join('\n');
}

/** Replace the section between `<!-- bench:ID -->` markers in docs/performance.md (then format it). */
export async function writeSection(id: string, markdown: string): Promise<void> {
  const file = path.join(projectRoot, 'docs', 'performance.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`docs/performance.md has no ${start} … ${end} section`);
  const updated = `${text.slice(0, from + start.length)}\n${markdown}\n${text.slice(to)}`;
  const options = (await prettier.resolveConfig(file)) ?? {};
  fs.writeFileSync(file, await prettier.format(updated, { ...options, filepath: file }));
}

/** A throw-away embedded database (FerretDB here) with Ensemble's collections, for one benchmark run. */
export async function startBenchDatabase(dbName: string, options: { monitorCommands?: boolean } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `ensemble-bench-${dbName}-`));
  const embedded = await startEmbeddedDatabase({
    dataDir,
    toolsDir: path.join(projectRoot, '.tools'),
    allowDownload: false,
    logger: pino({ level: 'warn' }),
  });
  // A bench that stops on an error must not leave its database server (and its data) behind.
  const leftBehind = () => {
    try {
      if (embedded.pid) process.kill(embedded.pid);
    } catch {
      // already stopped
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', leftBehind);
  const database = await connectDatabase({ uri: embedded.uri, dbName, ...options });
  await ensureCollections(database.db);
  return {
    uri: embedded.uri,
    /** The database server's process id (CPU accounting). */
    pid: embedded.pid,
    /** FerretDB's debug handler (Go pprof), when the database is FerretDB. */
    debugUrl: embedded.debugUrl,
    database,
    close: async () => {
      process.off('exit', leftBehind);
      await database.close();
      await embedded.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The whole node, configured as in production, listening on a loopback port. */
export async function startBenchNode(
  uri: string,
  database: Database,
  options: { port?: number; issuers?: IssuerConfig[]; env?: Record<string, string> } = {},
) {
  const port = options.port ?? (await freePort());
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    MONGODB_URI: uri,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SESSION_SECRET: 'bench-secret-bench-secret-bench-secret',
    // One signed-in client posts for many people as fast as it can: the limit runs, and is never reached.
    API_WRITE_RATE_LIMIT: '1000000',
    OIDC_ISSUERS: JSON.stringify([
      {
        id: 'none',
        name: { en: 'n', fr: 'n' },
        issuer: 'http://127.0.0.1:9',
        clientId: 'c',
        clientSecret: 's',
      },
      ...(options.issuers ?? []),
    ]),
    ...options.env,
  });
  // Its warnings and errors go to stderr: a benchmark that stops on a 503 says which command failed and why.
  const { node, close } = await serveNode(
    config,
    database,
    port,
    pino({ level: 'warn' }, pino.destination(2)),
  );
  return { url: `http://127.0.0.1:${port}`, node, close };
}

/** Time `count` requests one after another (for pages too slow for a load generator); median and max. */
export async function timeSequential(name: string, url: string, count = 3): Promise<LoadResult> {
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(600_000) });
      await res.arrayBuffer();
      if (!res.ok) errors++;
    } catch {
      errors++;
    }
    times.push(Math.round(performance.now() - start));
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  return {
    name,
    requestsPerSecond: Math.round((count / (total / 1000)) * 100) / 100,
    p50Ms: times[Math.floor(times.length / 2)]!,
    p99Ms: times[times.length - 1]!,
    errors,
  };
}

/** The real identity provider in its own process (bench/idp.process.ts); `close` ends it. */
async function startIdpProcess(options: {
  id: string;
  nodeUrl: string;
  people: TestIdp['people'];
}): Promise<Pick<TestIdp, 'url' | 'issuer' | 'close'>> {
  const child = fork(path.join(projectRoot, 'bench', 'idp.process.ts'), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_IDP: JSON.stringify(options) },
  });
  const started = await new Promise<Pick<TestIdp, 'url' | 'issuer'>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the identity provider did not start within 60 s'));
    }, 60_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as Pick<TestIdp, 'url' | 'issuer'>);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the identity provider exited with ${code}`));
    });
  });
  return {
    ...started,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      await exited;
    },
  };
}

/** The node with a real identity provider (its own process) and one person (`bench`) signed in through it. */
export async function startSignedInNode(uri: string, database: Database, env: Record<string, string> = {}) {
  const port = await freePort();
  const person = {
    sub: 'bench',
    name: 'Bench',
    email: 'bench@dept.example',
    locale: 'en' as const,
    organization: '',
  };
  const idp = await startIdpProcess({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: [person] });
  const ensemble = await startBenchNode(uri, database, { port, issuers: [idp.issuer], env });
  const browser = new Browser();
  await signIn(browser, ensemble.url, 'dept', 'bench');
  return { ensemble, idp, browser, client: new ApiClient(browser, ensemble.url) };
}

/**
 * The real entry point (server/main.ts) in its own process, configured as in production, on a loopback port;
 * resolves once `/readyz` answers. `stop` sends SIGTERM and waits for the exit.
 */
export async function startNodeProcess(options: {
  port: number;
  env: Record<string, string>;
  /** Where its log (JSON lines, warnings and errors) goes; discarded without. */
  logFile?: string;
}) {
  const url = `http://127.0.0.1:${options.port}`;
  const log = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(options.port),
      PUBLIC_URL: url,
      SESSION_SECRET: 'bench-secret-bench-secret-bench-secret',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '0',
      API_WRITE_RATE_LIMIT: '1000000',
      ...options.env,
    },
    stdio: ['ignore', log, 'inherit'],
  });
  if (typeof log === 'number') fs.closeSync(log);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the node process on ${url} did not become ready`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(force);
    },
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds a process has used so far (user + system, Linux /proc), or null elsewhere. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: utime is the 14th field, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
