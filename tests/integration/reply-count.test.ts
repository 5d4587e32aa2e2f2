import { ObjectId } from 'mongodb';
import type { ReplySlot } from '../../server/threads/thread.repository.js';
import { LOST_REPLY_AFTER_MS } from '../../server/threads/thread.writers.js';
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

  it('a position taken by a writer that died before writing its reply stops counting; a late reply counts again', async () => {
    const thread = await db()
      .collection('threads')
      .findOne({ _id: new ObjectId(threadId) });
    // Position 3 taken, then the process died: no reply was ever written for it.
    const lostReply = new ObjectId();
    await db()
      .collection<ReplySlot>('reply_slots')
      .insertOne({
        _id: `${threadId}:3`,
        n: 3,
        groupId: thread!.groupId,
        threadId: thread!._id,
        replyId: lostReply,
        at: new Date(Date.now() - LOST_REPLY_AFTER_MS - 60_000),
      });
    // Position 4 taken a moment ago by a writer still at work: it may yet write its reply.
    await db()
      .collection<ReplySlot>('reply_slots')
      .insertOne({
        _id: `${threadId}:4`,
        n: 4,
        groupId: thread!.groupId,
        threadId: thread!._id,
        replyId: new ObjectId(),
        at: new Date(),
      });
    await reply('three'); // position 5
    expect(await listed()).toBe(3);
    // Position 3 is not counted; position 4 is, until its writer has had time to finish.
    await settlesTo(4);

    // The writer of position 3 was only slow after all: its reply arrives, and counts again.
    const one = await db().collection('replies').findOne({ threadId: thread!._id, seq: 1 });
    await db()
      .collection('replies')
      .insertOne({ ...one!, _id: lostReply, seq: 3 });
    expect(await listed()).toBe(4);
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
