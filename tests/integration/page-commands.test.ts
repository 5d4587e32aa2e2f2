import type { ApiClient } from '../helpers/browser.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * A page costs a handful of database commands whatever it shows (issue "Fast at department scale": no
 * per-item lookups). Each page is read once with a little content and once with several times more threads,
 * replies, authors and likes; the second must not send more commands than the first, and neither more than a
 * handful. The page cache and the records kept for pages are off: every read is built from the database.
 */
describe('database commands per page', () => {
  let w: World;
  let commands = 0;
  let timelineReads = 0;
  let counting = false;
  let lastCommandAt = 0;

  /** Until the work requests left behind (notifications, like counts, bookkeeping) is done: 400 ms quiet. */
  async function quiet(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() - lastCommandAt < 400 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  }

  beforeAll(async () => {
    w = await startWorld(
      ['ana', 'ben', 'cy', 'dee'],
      { PAGE_CACHE: 'off', RECORD_CACHE: 'off' },
      {},
      {
        monitorCommands: true,
      },
    );
    // The job queue's, the delivery queue's and the settings' polls run beside any request: not the page's.
    const polled = new Set(['jobs', 'job_claims', 'node_settings', 'fed_deliveries', 'fed_hosts']);
    w.node.database.client.on('commandStarted', (e) => {
      const collection = String(e.command[e.commandName]);
      if (polled.has(collection)) return;
      lastCommandAt = Date.now();
      if (counting) commands++;
      if (counting && collection === 'thread_timeline' && e.commandName === 'find') timelineReads++;
    });
    const { ana } = w.as as Record<string, ApiClient>;
    await ana!.call('POST', '/groups', {
      handle: 'ops',
      name: 'Ops',
      visibility: 'public',
      joinPolicy: 'open',
    });
    for (const who of ['ben', 'cy', 'dee']) await w.as[who]!.call('POST', '/groups/ops/join');
  });
  afterAll(() => w?.close());

  const people = () => ['ana', 'ben', 'cy', 'dee'].map((who) => w.as[who]!);

  /** Threads by everyone, each with replies and likes by everyone. */
  async function add(threads: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < threads; i++) {
      const author = people()[i % 4]!;
      const thread = await author.call('POST', '/groups/ops/threads', {
        title: `Thread ${i}`,
        body: `Paragraph one of ${i}.\n\nParagraph two.`,
      });
      ids.push(thread.body.id as string);
      for (const [n, who] of people().entries()) {
        const reply = await who.call('POST', `/threads/${thread.body.id as string}/replies`, {
          body: `Reply ${n} to ${i}`,
        });
        await people()[(n + 1) % 4]!.call('PUT', `/replies/${reply.body.id as string}/like`);
      }
      await people()[(i + 1) % 4]!.call('PUT', `/threads/${thread.body.id as string}/like`);
    }
    expect((await w.as.ana!.call('PUT', `/threads/${ids[0]!}/pin`)).status).toBe(204);
    await quiet(); // notifications fanned out, like counts written: the node is quiet again
    return ids;
  }

  async function cost(path: string): Promise<number> {
    await w.as.ben!.call('GET', path); // sessions and process caches warm, as for a person browsing
    await quiet(); // what that read left to do after its answer is not this read's
    commands = 0;
    timelineReads = 0;
    counting = true;
    const res = await w.as.ben!.call('GET', path);
    counting = false;
    expect(res.status).toBe(200);
    return commands;
  }

  it('reads a group’s threads, a thread and its replies, and the feed in a handful of commands, whatever they show', async () => {
    const [first] = await add(3);
    const pages = (thread: string) => [
      '/groups/ops',
      '/groups/ops/threads',
      `/threads/${thread}`,
      `/threads/${thread}/replies`,
      '/feed',
    ];
    const small: number[] = [];
    for (const path of pages(first!)) small.push(await cost(path));
    await add(12);
    const large: number[] = [];
    for (const path of pages(first!)) large.push(await cost(path));
    const shown = (await w.as.ben!.call('GET', '/groups/ops/threads')).body as { items: unknown[] };
    expect(shown.items.length).toBeGreaterThanOrEqual(12);
    // Five times the threads, replies, likes and authors: at most a read or two more (a longer timeline),
    // and a handful in all.
    const costs = pages(first!).map((path, i) => ({ path, small: small[i]!, large: large[i]! }));
    expect(costs.filter((c) => c.large > c.small + 2 || c.large > 12)).toEqual([]);
    // Every reply left a dead position behind its thread's new one (five positions a thread): the first
    // page, read again, reads as many positions as it took last time in one read, not in two.
    await cost('/groups/ops/threads');
    expect(timelineReads).toBe(1);
    // A fixed amount of work (about 150 writes, then each read counted once the node is quiet), given time
    // for a busy machine.
  }, 180_000);
});
