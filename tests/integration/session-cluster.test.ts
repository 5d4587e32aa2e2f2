import { MongoClient } from 'mongodb';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { testServerUri } from '../helpers/db.js';
import { waitUntil } from '../helpers/fediverse.js';
import { twoProcesses } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';

/**
 * Sessions kept in each process (docs/adr/0038-kept-sessions.md), with two real server processes on one
 * database and a real redis-server: whatever ends a session on one process is honoured on the other at once.
 */
describe('kept sessions across the processes of a node', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let client: MongoClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = await new MongoClient(testServerUri()).connect();
  });
  const nodes = twoProcesses('sessions', () => redis.url);
  afterAll(async () => {
    await client.close();
    await redis.stop().catch(() => undefined);
  });
  const { dbName } = nodes;
  let a: string;
  let b: string;
  beforeAll(() => {
    ({ a, b } = nodes);
  });

  /** Signed in on A; the same session cookie also sent to B (one node behind one address). */
  async function signedIn(who: string) {
    const browser = new Browser();
    await signIn(browser, a, 'dev', who);
    for (const [name, value] of browser.cookies(new URL(a).origin))
      browser.cookies(new URL(b).origin).set(name, value);
    return { browser, onA: new ApiClient(browser, a), onB: new ApiClient(browser, b) };
  }
  const status = async (api: ApiClient) => (await api.call('GET', '/me')).status;
  const signOut = async (browser: Browser, api: ApiClient) => {
    const res = await browser.request(`${a}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ _csrf: await api.token() }).toString(),
    });
    expect(res.status).toBe(200);
  };
  /** The session id inside a signed `ensemble.sid` cookie (`s:<id>.<signature>`). */
  const sessionId = (browser: Browser) => {
    const cookie = decodeURIComponent(browser.cookies(new URL(b).origin).get('ensemble.sid') ?? '');
    return cookie.slice(2, cookie.lastIndexOf('.'));
  };
  const redisUp = async (url: string) =>
    /^ensemble_redis_up 1$/m.test(await (await fetch(`${url}/metrics`)).text());

  it('refuses a session signed out on A at once on B, which kept it', async () => {
    const chloe = await signedIn('chloe');
    for (let i = 0; i < 3; i++) expect(await status(chloe.onB)).toBe(200); // read once, then kept on B
    await signOut(chloe.browser, chloe.onA);
    // The same cookie, sent to B right after A answered.
    expect(await status(chloe.onB)).toBe(401);
    expect(await status(chloe.onA)).toBe(401);
  });

  it('refuses every session of a person deactivated by an administrator at once, on both processes', async () => {
    const alice = await signedIn('alice'); // the dev cast's first person administers the node
    const bruno = await signedIn('bruno');
    const other = await signedIn('bruno'); // a second session of his (another browser)
    for (const api of [bruno.onA, bruno.onB, other.onB, bruno.onB, other.onB])
      expect(await status(api)).toBe(200);
    expect((await alice.onA.call('POST', '/admin/people/bruno/deactivate')).status).toBe(200);
    expect(await status(bruno.onB)).toBe(401);
    expect(await status(other.onB)).toBe(401);
    expect(await status(bruno.onA)).toBe(401);
    expect(await status(alice.onB)).toBe(200); // only his
  });

  it('refuses a kept session once its stored expiry has passed', async () => {
    const dev = await signedIn('dev');
    // A session that ends in a few seconds (as one does at the end of SESSION_MAX_AGE), before B reads it.
    const expires = Date.now() + 4000;
    await client
      .db(dbName)
      .collection<{ _id: string }>('sessions')
      .updateOne({ _id: sessionId(dev.browser) }, { $set: { expires: new Date(expires) } });
    for (let i = 0; i < 3; i++) expect(await status(dev.onB)).toBe(200); // kept on B
    expect(Date.now()).toBeLessThan(expires);
    await new Promise((r) => setTimeout(r, expires - Date.now() + 100));
    expect(await status(dev.onB)).toBe(401);
  });

  // Last: Redis stays down.
  it('keeps no session while Redis cannot be heard, and forgets those it kept', async () => {
    const emma = await signedIn('emma');
    for (let i = 0; i < 2; i++) expect(await status(emma.onB)).toBe(200); // kept on B
    await redis.stop();
    await waitUntil(async () => !(await redisUp(a)) && !(await redisUp(b)), 10_000, 'both to notice');
    // A's sign-out cannot be told to B now: B forgot what it kept when Redis went.
    await signOut(emma.browser, emma.onA);
    expect(await status(emma.onB)).toBe(401);
    // And keeps nothing while Redis is down.
    const farid = await signedIn('farid');
    for (let i = 0; i < 3; i++) expect(await status(farid.onB)).toBe(200);
    await signOut(farid.browser, farid.onA);
    expect(await status(farid.onB)).toBe(401);
    redis = await startRedis({ port: redis.port }); // the processes stop cleanly with Redis back
    await waitUntil(async () => (await redisUp(a)) && (await redisUp(b)), 15_000, 'both to hear again');
  });
});
