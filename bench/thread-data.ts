// Builds a group's threads and replies for the page benchmarks: the documents ThreadService writes,
// computed in memory and inserted in batches (posting a million replies through the API would take hours).
// The timeline follows the writer's rules exactly: each activity takes the next position and retires the
// thread's previous one, recording the run of dead positions below it as ThreadTimeline.retire does (up
// to 16 hops). Thread 0 gets the last reply (so it leads the first page); the last thread is the long one.
import { ObjectId, type Db } from 'mongodb';
import { collections } from '../server/db/collections.js';

export interface GroupData {
  threadIds: ObjectId[];
  replyIds: ObjectId[];
  /** Each thread's live timeline position. */
  current: Int32Array;
  /** The long thread, and a thread with one reply. */
  hot: ObjectId;
  single: ObjectId;
  /** Thread index of reply j. */
  replyThread: (j: number) => number;
}

const body = { markdown: 'Some discussion text.', html: '<p>Some discussion text.</p>\n' };

export async function loadGroup(
  db: Db,
  groupId: ObjectId,
  authorId: ObjectId,
  size: { threads: number; replies: number; hotReplies: number },
): Promise<GroupData> {
  const { threads, replies, hotReplies } = size;
  const base = Date.now() - (threads * 1000 + replies * 10);
  const content = {
    groupId,
    authorId,
    body,
    mentions: [],
    likeCount: 0,
    audience: 'public',
    editedAt: null,
    deleted: null,
    searchTokens: [],
  };
  const threadIds = Array.from({ length: threads }, () => new ObjectId());
  const activity = threads + replies + 1;
  const slotThread = new Int32Array(activity + 1);
  const dead = new Uint8Array(activity + 1);
  const skip = new Int32Array(activity + 1);
  const current = new Int32Array(threads);
  const replyCount = new Int32Array(threads);
  const lastActivity = new Float64Array(threads);
  let head = 0;
  const bump = (thread: number, at: number) => {
    const n = ++head;
    slotThread[n] = thread;
    const previous = current[thread]!;
    if (previous) {
      let bottom = previous;
      for (let p = previous - 1, hops = 0; p >= 1 && hops < 16 && dead[p]; hops++) {
        bottom = skip[p]!;
        p = bottom - 1;
      }
      dead[previous] = 1;
      skip[previous] = bottom;
    }
    current[thread] = n;
    lastActivity[thread] = at;
  };
  for (let j = 0; j < threads; j++) bump(j, base + j * 1000);
  const replyThread = (j: number) =>
    j === replies ? 0 : j < hotReplies ? threads - 1 : 1 + (j % (threads - 2));
  const replyIds: ObjectId[] = [];
  const replySeq = new Int32Array(replies + 1);
  for (let j = 0; j <= replies; j++) {
    const thread = replyThread(j);
    replyIds.push(new ObjectId());
    replySeq[j] = ++replyCount[thread]!;
    bump(thread, base + threads * 1000 + j * 10);
  }

  const insertAll = async (name: string, count: number, make: (i: number) => object) => {
    for (let i = 0; i < count; i += 10_000) {
      const batch = [];
      for (let j = i; j < Math.min(i + 10_000, count); j++) batch.push(make(j));
      await db.collection(name).insertMany(batch as never[], { ordered: false });
    }
  };
  await insertAll(collections.threads, threads, (j) => ({
    _id: threadIds[j],
    title: `Thread ${j}`,
    ...content,
    createdAt: new Date(base + j * 1000),
    pinned: false,
    locked: false,
    replyCount: replyCount[j],
    lastActivityAt: new Date(lastActivity[j]!),
    timelineSlot: current[j],
  }));
  await insertAll(collections.replies, replies + 1, (j) => ({
    _id: replyIds[j],
    threadId: threadIds[replyThread(j)],
    parentId: null,
    depth: 1,
    ...content,
    createdAt: new Date(base + threads * 1000 + j * 10),
    seq: replySeq[j],
    pos: `${threadIds[replyThread(j)]!.toHexString()}:${replySeq[j]}`,
  }));
  await insertAll(collections.threadTimeline, head, (i) => ({
    _id: `${groupId.toHexString()}:${i + 1}`,
    n: i + 1,
    groupId,
    threadId: threadIds[slotThread[i + 1]!],
    dead: dead[i + 1] === 1,
    skip: dead[i + 1] ? skip[i + 1] : null,
  }));
  await db
    .collection(collections.sequenceHints)
    .insertOne({ _id: `timeline:${groupId.toHexString()}` as never, n: head });
  return {
    threadIds,
    replyIds,
    current,
    hot: threadIds[threads - 1]!,
    single: threadIds[0]!,
    replyThread,
  };
}
