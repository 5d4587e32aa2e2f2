import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../server/core/net.js';

/**
 * A throw-away PostgreSQL cluster (Debian's `postgresql` package, installed by
 * scripts/install-system-deps.sh) on a free loopback port, for FerretDB on PostgreSQL
 * (docs/adr/0026-postgresql-index-served-filters.md).
 *
 * PostgreSQL refuses to run as root: when the tests run as root (CI), the cluster runs as the `postgres`
 * user the package creates (or `nobody`). Its data directory is a temporary folder, removed at stop; it is
 * made for speed (no fsync), never for keeping data. The server is started under a small shell that stops
 * it (fast shutdown) as soon as our end of its standard input closes, so a test run that is killed does not
 * leave a PostgreSQL behind.
 */
export interface PrivatePostgreSQL {
  /** `postgres://` URL of a database in this cluster. */
  url(database: string): string;
  /** Create a database, as a copy of `template` when given (a file copy: fast whatever its size). */
  createDatabase(name: string, template?: string): void;
  /** Run SQL with psql in `database`; returns its output (unaligned, tuples only). */
  sql(database: string, query: string): string;
  stop(): Promise<void>;
}

/** The folder holding initdb, postgres and psql: $PG_BINDIR, Debian's newest, or the PATH. */
export function postgresqlBinDir(): string | undefined {
  const fromEnv = process.env.PG_BINDIR;
  if (fromEnv && fs.existsSync(path.join(fromEnv, 'postgres'))) return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const initdb = which.stdout.trim();
  if (which.status === 0 && initdb) {
    const dir = path.dirname(fs.realpathSync(initdb));
    if (fs.existsSync(path.join(dir, 'postgres'))) return dir;
  }
  return undefined;
}

/** The OS user to run PostgreSQL as: ourselves, or when we are root the `postgres` user (else `nobody`). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  throw new Error('running as root and no postgres or nobody user to run PostgreSQL as');
}

/** Why a PostgreSQL cannot be started here, or undefined when it can. */
export function postgresqlUnavailable(): string | undefined {
  if (!postgresqlBinDir())
    return 'no PostgreSQL server binaries (install the `postgresql` package: scripts/install-system-deps.sh)';
  return undefined;
}

export async function startPrivatePostgreSQL(): Promise<PrivatePostgreSQL> {
  const bin = postgresqlBinDir();
  if (!bin) throw new Error(postgresqlUnavailable());
  const user = runAs();
  // The other user must reach the folder: /tmp rather than a TMPDIR that may be private to us.
  const base = user && fs.existsSync('/tmp') ? '/tmp' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'ensemble-postgresql-'));
  const dataDir = path.join(dir, 'data');
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  const asUser = { cwd: dir, env, ...(user ?? {}) };
  // UTF8 and a locale FerretDB accepts (it checks lc_collate); `--no-sync` since the cluster is thrown away.
  // Strings are compared with ICU's English collation where PostgreSQL has it (15 and later), as in a
  // database made with the usual en_US.UTF-8 locale: not byte by byte, as BSON compares them, so that an
  // order or a bound written without `COLLATE "C"` shows.
  const initdb = (icu: boolean) =>
    spawnSync(
      path.join(bin, 'initdb'),
      [
        ...['-D', dataDir, '-E', 'UTF8', '--locale=C.UTF-8', '-U', 'postgres', '-A', 'trust', '--no-sync'],
        ...(icu ? ['--locale-provider=icu', '--icu-locale=en'] : []),
      ],
      { ...asUser, encoding: 'utf8' },
    );
  let init = initdb(true);
  if (init.status !== 0) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    init = initdb(false);
  }
  if (init.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const settings = [
    ['listen_addresses', '127.0.0.1'],
    ['port', String(port)],
    ['unix_socket_directories', dir],
    ['fsync', 'off'],
    ['synchronous_commit', 'off'],
    ['full_page_writes', 'off'],
    ['shared_buffers', '128MB'],
    ['max_connections', '200'],
  ];
  const postgres = [
    path.join(bin, 'postgres'),
    '-D',
    dataDir,
    ...settings.flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  // The shell runs PostgreSQL in the background and waits for its standard input to close (our end of the
  // pipe closes when we stop it or when this process dies), then asks for a fast shutdown.
  const quoted = postgres.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('sh', ['-c', `${quoted} & pid=$!; cat >/dev/null; kill -INT $pid; wait $pid`], {
    ...asUser,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const psql = (database: string, args: string[]) =>
    execFileSync(
      path.join(bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-X', '-q', ...args],
      { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] },
    );

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = spawnSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q'], {
      env,
    });
    if (ready.status === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`PostgreSQL did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    createDatabase: (name, template) => {
      psql('postgres', ['-c', `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`]);
    },
    sql: (database, query) => psql(database, ['-A', '-t', '-c', query]),
    stop,
  };
}
