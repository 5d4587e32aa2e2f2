import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configVariables } from '../config.js';
import { freePort, tryListen } from '../core/net.js';
import { projectRoot } from '../core/paths.js';

/**
 * Several real Ensemble nodes on one machine, each a separate `server/main.ts` process with its own
 * database, its own development identity provider and demo department, on its own loopback address
 * (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127/8 to the loopback interface), so that every node is
 * a different host to the others, as departments are. Used by `scripts/nodes.ts` (the CLI), the
 * multi-node demo and the federation tests (tests/federation/groups-across-nodes.test.ts).
 *
 * Each node gets its own embedded FerretDB in its own data directory by default: nothing is shared
 * between nodes but the network, as between two departments (docs/adr/0018-node-launcher.md). A shared
 * database server (`database.uri`) with one database name per node is offered for machines where one
 * more database process per node is too much.
 */

export interface NodeSpec {
  /** A short name (`a`, `b`...): the node's data folder and log prefix. */
  name: string;
  /** The demo department whose people its development identity provider signs in (DEMO_DEPARTMENT). */
  department?: string | undefined;
  /** Its loopback address; by default 127.0.0.<index + 2>. */
  host?: string | undefined;
  /** By default the port it had before in its data folder, else `preferredPort` if free, else a free port. */
  port?: number | undefined;
  /** More environment for this node only. */
  env?: Record<string, string> | undefined;
}

export interface LaunchOptions {
  nodes: NodeSpec[];
  /** Where each node keeps its embedded database (`<dataRoot>/<name>`); a temporary folder by default. */
  dataRoot?: string | undefined;
  /** Remove `dataRoot` when the nodes stop (default: true for a temporary folder, else false). */
  removeData?: boolean | undefined;
  /** A shared database server instead of one embedded database per node (database `ensemble_<name>`). */
  database?: { uri: string } | undefined;
  /** `development` seeds demo data; `test` does not (default `development`). */
  nodeEnv?: 'development' | 'test' | undefined;
  logLevel?: string | undefined;
  /** The port to try first for a node seen for the first time (each node has its own host, so one port
   * serves them all); a free port otherwise. */
  preferredPort?: number | undefined;
  /** Environment for every node. */
  env?: Record<string, string> | undefined;
  /** Where the nodes' stdout and stderr go (default: this process's stderr, each line prefixed). */
  output?: 'inherit' | 'ignore' | undefined;
  readyTimeoutMs?: number | undefined;
}

export interface LaunchedNode {
  name: string;
  department: string | undefined;
  host: string;
  port: number;
  /** PUBLIC_URL of the node. */
  url: string;
  pid: number | undefined;
  child: ChildProcess;
  /** SIGTERM, then wait for the process (and its embedded database) to exit. */
  stop(): Promise<void>;
  /** Start a stopped node again, on the same address and data (a department's node back after an outage). */
  restart(): Promise<void>;
}

export interface LaunchedNodes {
  nodes: LaunchedNode[];
  dataRoot: string;
  stop(): Promise<void>;
}

/** Where a node's data folder records the address it was started on. */
const ADDRESS_FILE = 'node.json';

/**
 * The port a node listens on. Its address is part of its data (its actors' ids, the ids other nodes hold
 * for its groups and people, its session cookies), so a node started again on the same data folder keeps
 * the port it had, and says so clearly when that port is taken.
 */
async function choosePort(
  spec: NodeSpec,
  host: string,
  dataDir: string,
  options: LaunchOptions,
): Promise<number> {
  if (spec.port !== undefined) return spec.port;
  const file = path.join(dataDir, ADDRESS_FILE);
  if (fs.existsSync(file)) {
    const before = JSON.parse(fs.readFileSync(file, 'utf8')) as { host?: string; port?: number };
    if (before.host === host && typeof before.port === 'number') {
      if ((await tryListen(before.port, host)) === null)
        throw new Error(
          `node ${spec.name} ran at http://${host}:${before.port} before and its data says so, but that ` +
            `port is taken now: free it, or start with another data folder`,
        );
      return before.port;
    }
  }
  const preferred = options.preferredPort;
  const port = (preferred !== undefined ? await tryListen(preferred, host) : null) ?? (await freePort(host));
  fs.writeFileSync(file, `${JSON.stringify({ host, port })}\n`);
  return port;
}

const isTypeScript = fileURLToPath(import.meta.url).endsWith('.ts');

/** The command that runs the server entry: from sources through tsx, or the built JavaScript. */
function entry(): string[] {
  if (isTypeScript) return ['--import', 'tsx', path.join(projectRoot, 'server', 'main.ts')];
  return [path.join(projectRoot, 'dist', 'server', 'main.js')];
}

function prefixLines(stream: NodeJS.ReadableStream | null, prefix: string): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) process.stderr.write(`${prefix} ${line}\n`);
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the node at ${url} exited during start (${child.exitCode ?? child.signalCode})`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`the node at ${url} was not ready after ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(force);
  };
}

/** The environment a launched node runs with (inherited variables minus those that would mislead it). */
function nodeEnvironment(
  spec: NodeSpec,
  host: string,
  port: number,
  options: LaunchOptions,
  dataDir: string,
): NodeJS.ProcessEnv {
  // Nothing of this process's own Ensemble configuration leaks into the nodes (a shared REDIS_URL would join
  // their sockets, a shared MONGODB_URI their data): each node is configured here, and by `env` only.
  const own = new Set<string>(configVariables);
  // How to get a database server is shared (each node still starts its own).
  for (const tool of ['TOOLS_DIR', 'FERRETDB_BIN', 'MONGOMS_SYSTEM_BINARY', 'EMBEDDED_DB_ALLOW_DOWNLOAD'])
    own.delete(tool);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !own.has(k) && !k.startsWith('ENSEMBLE_') && !k.startsWith('JEST_'),
    ),
  );
  return {
    ...inherited,
    NODE_ENV: options.nodeEnv ?? 'development',
    HOST: host,
    PORT: String(port),
    PUBLIC_URL: `http://${host}:${port}`,
    DATA_DIR: dataDir,
    ...(options.database
      ? { MONGODB_URI: options.database.uri, MONGODB_DB_NAME: `ensemble_${spec.name}` }
      : {}),
    DEV_IDP: 'true',
    ...(spec.department ? { DEMO_DEPARTMENT: spec.department } : {}),
    // The other nodes are on loopback addresses, which the outbound policy refuses unless allowed.
    FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
    LOG_LEVEL: options.logLevel ?? 'info',
    LOG_PRETTY: 'false',
    ...options.env,
    ...spec.env,
  };
}

/** Start the nodes (all at once) and wait until each answers `/readyz`. */
export async function launchNodes(options: LaunchOptions): Promise<LaunchedNodes> {
  const temporary = !options.dataRoot;
  const dataRoot = options.dataRoot ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-nodes-'));
  const removeData = options.removeData ?? temporary;
  const nodes: LaunchedNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    if (removeData) fs.rmSync(dataRoot, { recursive: true, force: true });
  };
  try {
    for (const [i, spec] of options.nodes.entries()) {
      if (!/^[a-z0-9-]{1,32}$/.test(spec.name)) throw new Error(`node name ${spec.name}: use a-z, 0-9, -`);
      const host = spec.host ?? `127.0.0.${i + 2}`;
      const dataDir = path.join(dataRoot, spec.name);
      fs.mkdirSync(dataDir, { recursive: true });
      const port = await choosePort(spec, host, dataDir, options);
      const spawnNode = () => {
        const quiet = options.output === 'ignore';
        const child = spawn(process.execPath, entry(), {
          cwd: projectRoot,
          env: nodeEnvironment(spec, host, port, options, dataDir),
          // The IPC channel ties the node's life to this process (server/main.ts stops on disconnect). Its
          // own process group: Ctrl-C in a terminal reaches this process only, which then stops each node
          // once (a node signalled twice exits at once, without stopping its database cleanly).
          detached: true,
          stdio: ['ignore', quiet ? 'ignore' : 'pipe', quiet ? 'ignore' : 'pipe', 'ipc'],
        });
        prefixLines(child.stdout, `[${spec.name}]`);
        prefixLines(child.stderr, `[${spec.name}]`);
        return child;
      };
      const child = spawnNode();
      const node: LaunchedNode = {
        name: spec.name,
        department: spec.department,
        host,
        port,
        url: `http://${host}:${port}`,
        pid: child.pid,
        child,
        stop: stopper(child),
        restart: async () => {
          await node.stop();
          node.child = spawnNode();
          node.pid = node.child.pid;
          node.stop = stopper(node.child);
          await waitReady(node.url, node.child, options.readyTimeoutMs ?? 90_000);
        },
      };
      nodes.push(node);
    }
    await Promise.all(nodes.map((n) => waitReady(n.url, n.child, options.readyTimeoutMs ?? 90_000)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { nodes, dataRoot, stop: stopAll };
}
