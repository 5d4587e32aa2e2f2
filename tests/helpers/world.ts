import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from './app.js';
import { ApiClient, Browser, signIn } from './browser.js';
import { startTestIdp, type TestIdp } from './idp.js';

export interface World {
  idp: TestIdp;
  node: RunningNode;
  /** A signed-in API client per person. */
  as: Record<string, ApiClient>;
  anonymous: ApiClient;
  close(): Promise<void>;
}

/** A node on a real port, a real identity provider, and these people signed in through it. */
export async function startWorld(
  people: string[],
  env: Record<string, string> = {},
  locales: Record<string, 'en' | 'fr'> = {},
  options: { monitorCommands?: boolean } = {},
): Promise<World> {
  const cast: DemoPerson[] = people.map((sub) => ({
    sub,
    name: sub[0]!.toUpperCase() + sub.slice(1),
    email: `${sub}@dept.example`,
    locale: locales[sub] ?? 'en',
    organization: '',
  }));
  const port = await freePort();
  const idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: cast });
  const node = await startTestNode({ port, issuers: [idp.issuer], env, ...options });
  const as: Record<string, ApiClient> = {};
  for (const who of people) {
    const browser = new Browser();
    await signIn(browser, node.url, 'dept', who);
    as[who] = new ApiClient(browser, node.url);
  }
  return {
    idp,
    node,
    as,
    anonymous: new ApiClient(new Browser(), node.url),
    close: async () => {
      await node.close();
      await idp.close();
    },
  };
}
