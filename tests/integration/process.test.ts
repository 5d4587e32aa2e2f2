import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../server/core/net.js';
import { projectRoot } from '../../server/core/paths.js';

/** Run the real entry point, as `npm run dev` / `npm start` do, in a child process. */
function startServer(env: Record<string, string>): ChildProcessWithoutNullStreams {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('ENSEMBLE_') && k !== 'MONGODB_URI' && k !== 'PORT',
    ),
  );
  return spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: { ...clean, LOG_PRETTY: 'false', LOG_LEVEL: 'info', ...env },
  });
}

function collect(child: ChildProcessWithoutNullStreams) {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = () =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { exited, logs, stderr: () => stderr };
}

async function waitForLog(
  logs: () => Record<string, unknown>[],
  match: (l: Record<string, unknown>) => boolean,
) {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const found = logs().find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`log line not seen; got: ${JSON.stringify(logs().map((l) => l.msg))}`);
}

describe('the server process', () => {
  it('refuses to boot on an invalid value and names the variable', async () => {
    const run = collect(startServer({ PORT: 'abc' }));
    expect(await run.exited).toBe(78);
    expect(run.stderr()).toContain('PORT: expected a port number (got "abc")');
    expect(run.stderr()).toContain('docs/configuration.md');
  });

  it('refuses to boot in production without a database URI', async () => {
    const run = collect(
      startServer({ NODE_ENV: 'production', PUBLIC_URL: 'https://ensemble.example.gc.ca' }),
    );
    expect(await run.exited).toBe(78);
    expect(run.stderr()).toMatch(/MONGODB_URI: is required in production/);
  });

  it('starts on embedded defaults, prints its URL, serves the demo, and exits 0 on one SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-main-'));
    const port = await freePort();
    // As the quick start runs it: development, with the development identity provider, demo and mail catcher.
    const child = startServer({
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PORT: String(port),
      EMBEDDED_DB_ALLOW_DOWNLOAD: 'false',
      SHUTDOWN_DRAIN_MS: '1500',
    });
    const run = collect(child);
    try {
      const ready = await waitForLog(run.logs, (l) => String(l.msg).startsWith('Ensemble is running at'));
      expect(ready.msg).toBe(`Ensemble is running at http://127.0.0.1:${port}`);
      const db = await waitForLog(run.logs, (l) => l.msg === 'embedded database started');
      const connected = await waitForLog(run.logs, (l) => String(l.msg).startsWith('connected to'));
      expect(connected.server).toMatch(/^(FerretDB|MongoDB)$/);

      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/groups/welcome`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/dev/mail`)).status).toBe(200);

      child.kill('SIGTERM');
      // While draining, readiness fails so load balancers move away, but requests are still served.
      await waitForLog(run.logs, (l) => l.msg === 'shutting down: draining');
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await run.exited).toBe(0);
      expect(run.logs().map((l) => l.msg)).toContain('stopped');
      // The database server it started is gone too.
      expect(() => process.kill(db.pid as number, 0)).toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
