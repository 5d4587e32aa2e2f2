import { ObjectId } from 'mongodb';
import { waitUntil } from '../helpers/fediverse.js';
import { openGroupWithThread } from '../helpers/groups.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * A thread's reply count when a writer stopped part-way (a process killed between two of its writes):
 * what it leaves behind is made here exactly as the writer leaves it, and the count a person sees must
 * match the replies they can read once the thread has been read (docs/operations.md, "Faults").
 */
describe('a thread’s reply count after a writer stopped part-way', () => {
  let w: World;
  let threadId: string;
  const db = () => w.node.database.db;

  const listed = async () =>
    ((await w.as.alice!.call('GET', `/threads/${threadId}/replies?limit=50`)).body.items as { id: string }[])
      .length;
  const shown = async () => ({
    thread: (await w.as.alice!.call('GET', `/threads/${threadId}`)).body.replyCount as number,
    inGroup: (
      (await w.as.alice!.call('GET', '/groups/counts/threads')).body.items as {
        id: string;
        replyCount: number;
      }[]
    ).find((t) => t.id === threadId)!.replyCount,
  });
  /** The count shown, once the repair the last read scheduled has landed (ADR 0019: reads never write). */
  const settlesTo = async (count: number) => {
    await waitUntil(async () => (await shown()).thread === count, 5000, `a reply count of ${count}`).catch(
      () => undefined,
    );
    expect(await shown()).toEqual({ thread: count, inGroup: count });
  };
  const reply = async (body: string) =>
    expect((await w.as.alice!.call('POST', `/threads/${threadId}/replies`, { body })).status).toBe(201);

  beforeAll(async () => {
    w = await startWorld(['alice']);
    ({ threadId } = await openGroupWithThread(w.as.alice!, { handle: 'counts', name: 'Counts' }, 'Counting'));
    await reply('one');
    await reply('two');
  });
  afterAll(() => w?.close());

  it('a position below the head without its reply stops counting at once; a reply written there counts again', async () => {
    const thread = await db()
      .collection('threads')
      .findOne({ _id: new ObjectId(threadId) });
    const one = await db().collection('replies').findOne({ threadId: thread!._id, seq: 1 });
    const at = (seq: number) => ({ ...one!, _id: new ObjectId(), seq, pos: `${threadId}:${seq}` });
    // Position 3 was taken and its reply never written (by a writer of a release before a reply held its
    // own position, ADR 0044); position 4's reply was written and recorded on the thread.
    await db().collection('replies').insertOne(at(4));
    await db()
      .collection('threads')
      .updateOne({ _id: thread!._id }, { $set: { replyCount: 4 } });
    expect(await listed()).toBe(3);
    await settlesTo(3);

    // A reply at position 3 after all: it counts again.
    await db().collection('replies').insertOne(at(3));
    expect(await listed()).toBe(4);
    await settlesTo(4);
    await reply('five'); // after the head, whatever this process last saw of it
    const items = (await w.as.alice!.call('GET', `/threads/${threadId}/replies?limit=50`)).body.items as {
      body: { markdown: string };
    }[];
    expect(items.map((r) => r.body.markdown)).toEqual(['one', 'two', 'one', 'one', 'five']);
    await settlesTo(5);
  });

  it('replies written by a writer that died before recording them on the thread are counted', async () => {
    threadId = (await w.as.alice!.call('POST', '/groups/counts/threads', { title: 'Bookkeeping', body: 'x' }))
      .body.id;
    await reply('one');
    await reply('two');
    // The writer wrote its reply and died before its bookkeeping raised the thread's count.
    await db()
      .collection('threads')
      .updateOne({ _id: new ObjectId(threadId) }, { $inc: { replyCount: -1 } });
    expect(await listed()).toBe(2);
    await settlesTo(2);
  });
});
