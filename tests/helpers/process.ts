import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../server/core/net.js';
import { projectRoot } from '../../server/core/paths.js';
import { testServerUri } from './db.js';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** The real entry point (server/main.ts) in its own process, on the run's database server, ready. */
export async function startServerProcess(
  dbName: string,
  env: Record<string, string> = {},
  port?: number,
): Promise<ServerProcess> {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('ENSEMBLE_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: {
      ...inherited,
      NODE_ENV: 'test',
      PORT: String(port),
      PUBLIC_URL: url,
      MONGODB_URI: testServerUri(),
      MONGODB_DB_NAME: dbName,
      SESSION_SECRET: 'process-test-secret-process-test-secret',
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready)
      return {
        url,
        child,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        },
      };
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('server process did not become ready');
}

/**
 * Two server processes of one node (one database of their own, a real Redis between them), started in
 * the calling `describe`'s beforeAll and stopped in its afterAll: read `a` and `b` (their URLs) in the tests.
 */
export function twoProcesses(
  prefix: string,
  redisUrl: () => string,
): { readonly a: string; readonly b: string; readonly dbName: string } {
  const started: ServerProcess[] = [];
  const dbName = `${prefix}_${Math.random().toString(16).slice(2, 10)}`;
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) started.push(await startServerProcess(dbName, { REDIS_URL: redisUrl() }));
  });
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });
  return {
    get a() {
      return started[0]!.url;
    },
    get b() {
      return started[1]!.url;
    },
    dbName,
  };
}
