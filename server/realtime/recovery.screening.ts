import { ObjectId } from 'mongodb';
import type { createClient } from 'redis';
import type { Namespace } from 'socket.io';
import type { Caller } from '../core/caller.js';
import type { Logger } from '../core/logger.js';
import type { PersonRepository } from '../people/person.repository.js';
import { roomsOf, type SocketData } from './realtime.rooms.js';
import { RecoveryRecords, type RecoveryRecord } from './recovery.records.js';

/** How long a dropped connection can be recovered (Socket.IO's connection state recovery window). */
export const RECOVERY_WINDOW_MS = 2 * 60 * 1000;
/** The disconnections after which Socket.IO keeps a connection's state for recovery (socket.io 4.8). */
const RECOVERABLE = new Set([
  'transport error',
  'transport close',
  'forced close',
  'ping timeout',
  'server shutting down',
  'forced server close',
]);
/** How long recovery waits for Redis before the client is told to connect afresh. */
const REDIS_RECOVERY_TIMEOUT_MS = 2000;

/** What the adapter hands back to recover a connection (socket.io-adapter's `Session`). */
interface StoredSession {
  rooms: string[];
  data: SocketData;
  missedPackets: unknown[][];
}

/** A stored session without the rooms and missed events of the groups its person lost. */
function without(session: StoredSession, lost: Set<string>): StoredSession {
  if (!lost.size) return session;
  const rooms = Object.fromEntries(Object.entries(session.data.rooms ?? {}).filter(([, g]) => !lost.has(g)));
  const dropped = new Set(roomsOf(session.data.rooms, lost));
  return {
    ...session,
    data: { ...session.data, rooms },
    rooms: session.rooms.filter((r) => !dropped.has(r)),
    // Every group and thread event names its group; the person's own events (notifications) were
    // checked against the group's rules when they were made.
    missedPackets: session.missedPackets.filter((packet) => {
      const groupId = (packet[1] as { groupId?: unknown } | undefined)?.groupId;
      return typeof groupId !== 'string' || !lost.has(groupId);
    }),
  };
}

async function withinRedisTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('Redis did not answer in time')),
          REDIS_RECOVERY_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RecoveryScreeningDeps {
  logger: Logger;
  people: PersonRepository;
  /** Whether a stored session is still signed in as this person (`null`: signed out). */
  sessionIsCurrent: (sessionId: string, userId: string | null) => Promise<boolean>;
  /** Which of these groups the caller may no longer read (each read once). */
  unreadable: (caller: Caller, groupIds: Iterable<string>) => Promise<Set<string>>;
}

/**
 * Socket.IO recovers a dropped connection before any of our code sees it: it rejoins the rooms the
 * socket had and sends what those rooms were sent meanwhile, in one step. So each dropped socket leaves a
 * record (`RecoveryRecords`), and what changed during the drop is read from it first; only then is the
 * session restored: recovery is refused (the client connects afresh, as its cookie says now) when the
 * session signed out, the person was deactivated or there is no record; a group the person may no longer
 * read loses its rooms and its missed events. Restoring last keeps Socket.IO's own guarantee that no event
 * falls between the missed ones and the rejoined rooms.
 */
export class RecoveryScreening {
  private redis: ReturnType<typeof createClient> | undefined;
  private records = new RecoveryRecords(undefined, RECOVERY_WINDOW_MS);

  constructor(private readonly deps: RecoveryScreeningDeps) {}

  /** Several processes: the records live in Redis, and recovery is refused while it is away. */
  useRedis(redis: ReturnType<typeof createClient>): void {
    this.redis = redis;
    this.records = new RecoveryRecords(redis, RECOVERY_WINDOW_MS);
  }

  /** Keep the record of a socket that dropped, where Socket.IO itself keeps its state for recovery. */
  dropped(socket: { data: SocketData }, reason: string): void {
    const pid = (socket as unknown as { pid?: string }).pid;
    if (!pid || !RECOVERABLE.has(reason)) return;
    const { caller, sessionId, rooms } = socket.data;
    this.records
      .put(pid, { caller, sessionId, groupIds: [...new Set(Object.values(rooms ?? {}))] })
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not keep a recovery record'));
  }

  /** Screen every recovery of this namespace's connections before its session is restored. */
  screen(namespace: Namespace): void {
    const adapter = namespace.adapter;
    const restore = adapter.restoreSession.bind(adapter);
    adapter.restoreSession = async (pid: string, offset: string) => {
      try {
        // Without Redis there is neither record nor stored session to read: the client connects afresh
        // (and catches up through the REST API) instead of waiting for Redis to come back.
        if (this.redis && !this.redis.isReady) throw new Error('Redis is unreachable');
        const record = await withinRedisTimeout(this.records.take(pid));
        if (!record) throw new Error('no record of the dropped connection');
        const lost = await this.lostGroups(record);
        const session = (await withinRedisTimeout(restore(pid, offset))) as unknown as StoredSession | null;
        if (!session) return session as never;
        // The session restored must be the one the record was made for: every group it names screened.
        const screened = new Set(record.groupIds);
        if (Object.values(session.data.rooms ?? {}).some((g) => !screened.has(g)))
          throw new Error('the stored session does not match its record');
        return without(session, lost) as never;
      } catch (err) {
        this.deps.logger.info({ err }, 'connection recovery refused');
        throw err;
      }
    };
  }

  /** The groups a dropped socket may no longer read; throws when it may not be recovered at all. */
  private async lostGroups(record: RecoveryRecord): Promise<Set<string>> {
    const { caller, sessionId } = record;
    const userId = caller.kind === 'person' ? caller.personId : null;
    if (sessionId && !(await this.deps.sessionIsCurrent(sessionId, userId)))
      throw new Error('the session changed during the drop');
    if (userId) {
      const user = await this.deps.people.byId(new ObjectId(userId));
      if (user?.status !== 'active') throw new Error('the person is no longer active');
    }
    return this.deps.unreadable(caller, record.groupIds);
  }
}
