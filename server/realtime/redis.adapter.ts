import { createAdapter } from '@socket.io/redis-streams-adapter';
import { MessageType, type ClusterMessage } from 'socket.io-adapter';
import type { createClient } from 'redis';

type RedisClient = ReturnType<typeof createClient>;

/** The stream every message between the node's processes goes through (the adapter's default name). */
const STREAM = 'socket.io';
/**
 * About how many messages the stream keeps: what a dropped connection can replay. Three times the adapter's
 * default, as a change now adds its invalidations (page and records) beside its room event.
 */
const MAX_LEN = 30_000;

type Adapter = ReturnType<ReturnType<typeof createAdapter>>;

/**
 * Socket.IO's Redis streams adapter, with the messages a process sends its peers (`serverSideEmit`: the page
 * and record caches' invalidations) added to the same stream as room events (docs/adr/0027-page-cache.md).
 *
 * The adapter sends room events through a Redis stream (XADD, read in order by every process) but
 * `serverSideEmit` through Redis pub/sub: two connections, so another process could hear a room event before
 * the invalidation sent ahead of it, and a client reading the page again on that event got the page from
 * before the change (seen in CI: realtime-cluster.test.ts). Here both go through the one stream, on the one
 * publishing connection: a process hears them in the order they were sent. Acknowledged emits (none here)
 * stay on pub/sub, as the adapter sends their answers there.
 */
export function orderedAdapter(publisher: RedisClient): (nsp: unknown) => Adapter {
  const make = createAdapter(publisher, { streamName: STREAM, maxLen: MAX_LEN });
  // Socket.IO calls it with `new`: a function, not an arrow.
  return function ordered(nsp: unknown): Adapter {
    const adapter = make(nsp);
    // The adapter's own encoding, which its stream reader decodes (private in its types, public at run time).
    const encode = (adapter as unknown as { encode?: (m: ClusterMessage) => Record<string, string> }).encode;
    if (typeof encode !== 'function') throw new Error('the Redis streams adapter no longer encodes messages');
    const publish = adapter.doPublish.bind(adapter);
    adapter.doPublish = (message: ClusterMessage) => {
      if (message.type !== MessageType.SERVER_SIDE_EMIT || message.data.requestId !== undefined)
        return publish(message);
      return publisher.xAdd(STREAM, '*', encode.call(adapter, message), {
        TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: MAX_LEN },
      });
    };
    return adapter;
  };
}
