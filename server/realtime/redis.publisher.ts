import type { createClient } from 'redis';
import type { Logger } from '../core/logger.js';

type RedisClient = ReturnType<typeof createClient>;

/** How long an event raised while Redis is away waits for it before it is given up (the recovery window). */
export const OUTAGE_HOLD_MS = 120_000;

/**
 * The Redis client the Socket.IO adapter publishes through, holding what it publishes while Redis is away.
 * The adapter adds every event for the node's other processes to a Redis stream (XADD), and tells this
 * process's own sockets once that XADD has answered; one that fails is dropped. node-redis queues commands
 * while it reconnects but rejects those that wait more than a few seconds, so events raised during a longer
 * outage never reached the other processes, and this process's sockets got them only seconds late. Here an
 * XADD while Redis is away fails at once (this process's sockets get the event at once) and is kept, to be
 * sent once Redis is back, in the order raised: the other processes' sockets get it late, once
 * (docs/operations.md, "Faults"). After OUTAGE_HOLD_MS it is given up, and those sockets catch up through
 * the REST API as after any gap. Everything else goes to the client itself.
 */
export function holdingPublisher(client: RedisClient, logger: Logger): RedisClient {
  const xAdd = client.xAdd.bind(client) as (...args: unknown[]) => Promise<unknown>;
  /** Until Redis is ready again, or the hold of an event raised at `since` runs out. */
  const back = (since: number) =>
    new Promise<void>((resolve) => {
      if (client.isReady || !client.isOpen) return resolve();
      const timer = setTimeout(done, Math.max(0, since + OUTAGE_HOLD_MS - Date.now()));
      timer.unref();
      function done() {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('end', done);
        resolve();
      }
      client.once('ready', done);
      client.once('end', done);
    });
  const sendLater = async (args: unknown[], since: number): Promise<void> => {
    for (;;) {
      await back(since);
      if (!client.isOpen || (!client.isReady && Date.now() - since >= OUTAGE_HOLD_MS)) {
        logger.warn('an event for the other processes, raised while Redis was away, was given up');
        return;
      }
      try {
        await xAdd(...args);
        return;
      } catch (err) {
        if (client.isReady || !client.isOpen) {
          logger.warn({ err }, 'an event for the other processes was given up');
          return;
        }
      }
    }
  };
  let held: Promise<void> = Promise.resolve();
  const hold = (args: unknown[]) => {
    const since = Date.now();
    held = held.then(() => sendLater(args, since));
  };
  const publish = async (...args: unknown[]): Promise<unknown> => {
    if (!client.isReady) {
      hold(args);
      throw new Error('Redis is away: the event is held until it is back');
    }
    try {
      return await xAdd(...args);
    } catch (err) {
      if (!client.isReady && client.isOpen) hold(args);
      throw err;
    }
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === 'xAdd') return publish;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
