import { launchNodes, type LaunchedNode, type NodeSpec } from '../../server/ops/launcher.js';
import { ApiClient, Browser, signIn } from './browser.js';

export interface Departments {
  nodes: LaunchedNode[];
  /** A node by name (`a`, `b`, `c`...). */
  node(name: string): LaunchedNode;
  /** A person signed in on their node through its own development identity provider. */
  as(node: string, person: string): Promise<ApiClient>;
  close(): Promise<void>;
}

/**
 * Real Ensemble nodes, one per department, each its own process with its own database and identity
 * provider on its own loopback address, started by the same launcher as `npm run nodes`
 * (server/ops/launcher.ts). TEST_NODES_LOG=<level> shows their logs.
 */
export async function startDepartments(
  specs: NodeSpec[],
  env: Record<string, string> = {},
): Promise<Departments> {
  const launched = await launchNodes({
    nodes: specs,
    nodeEnv: 'test',
    logLevel: process.env.TEST_NODES_LOG ?? 'error',
    output: process.env.TEST_NODES_LOG ? 'inherit' : 'ignore',
    env: {
      // Deliveries that fail are tried again soon, not in 30 s.
      FEDERATION_RETRY_BASE_MS: '200',
      ...env,
    },
  });
  const clients = new Map<string, ApiClient>();
  const node = (name: string) => {
    const found = launched.nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  };
  return {
    nodes: launched.nodes,
    node,
    as: async (name, person) => {
      const key = `${name}:${person}`;
      let client = clients.get(key);
      if (!client) {
        const browser = new Browser();
        await signIn(browser, node(name).url, 'dev', person);
        client = new ApiClient(browser, node(name).url);
        clients.set(key, client);
      }
      return client;
    },
    close: () => launched.stop(),
  };
}
