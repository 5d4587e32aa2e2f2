import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { ObjectId } from 'mongodb';
import { createClient } from 'redis';
import { orderedAdapter } from './redis.adapter.js';
import { holdingPublisher } from './redis.publisher.js';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { Caller } from '../core/caller.js';
import {
  DomainError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
  type ProblemDetails,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { groupRef } from '../groups/group.schemas.js';
import type { GroupService } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import { leaveGroup, roomOf, roomsOf, type SocketData } from './realtime.rooms.js';
import { RECOVERY_WINDOW_MS, RecoveryScreening } from './recovery.screening.js';
import { msg, type Language } from '../core/messages.js';
import { readerLanguage } from '../core/problem.js';
import { fieldProblems, frenchIssues } from '../core/validation.js';

export { roomOf, type SocketData } from './realtime.rooms.js';

const roomInput = z
  .object({
    room: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('group'),
        group: groupRef,
      }),
      z.object({ kind: z.literal('thread'), id: z.string().regex(/^[0-9a-f]{24}$/, 'expected a thread id') }),
    ]),
  })
  .strict();

/** The same person (or every anonymous reader) has the same rights. */
const callerKey = (caller: Caller) => (caller.kind === 'person' ? `user:${caller.personId}` : caller.kind);

const EVENTS_PER_WINDOW = 30;
const EVENT_WINDOW_MS = 10_000;
/** Sockets whose rights are checked at once when a group's audience changes. */
const RECHECK_BATCH = 50;

export type Ack = (answer: { ok: true; room: string } | { ok: false; error: ProblemDetails }) => void;

/** An error as the ack of a socket event: the same problem details the REST API answers with. */
function problemOf(err: unknown, language: Language): ProblemDetails {
  if (err instanceof DomainError) return err.toProblem(undefined, language);
  return { type: '/problems/internal-error', title: 'Internal server error', status: 500 };
}

export interface RealtimeDeps {
  logger: Logger;
  groups: GroupService;
  threads: ThreadRepository;
  people: PersonRepository;
  publicUrl: string;
  redisUrl: string | undefined;
  /** Express middleware that reads the session cookie and the signed-in person (run at the handshake). */
  handshake: RequestHandler[];
  callerOf: (req: Request) => Caller;
  /** Group and thread rooms one connection may follow at once (REALTIME_MAX_ROOMS). */
  maxRoomsPerSocket: number;
  /** Whether a stored session is still signed in as this person (`null`: signed out). */
  sessionIsCurrent: (sessionId: string, userId: string | null) => Promise<boolean>;
}

type NodeSocket = Socket<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>;

/**
 * Socket.IO on the node's HTTP server. The handshake reads the Express session (no token in the URL);
 * sockets join `user:<id>` at once, and `group:<id>` / `thread:<id>` only when the same rules that govern
 * REST reads allow it. Several processes share rooms through Redis Streams when REDIS_URL is set.
 */
export class RealtimeServer {
  io: Server<Record<string, never>, Record<string, never>, Record<string, never>, SocketData> | undefined;
  private redis: ReturnType<typeof createClient> | undefined;
  private readonly recovery: RecoveryScreening;
  private readonly peerHandlers: [string, (payload: unknown) => void][] = [];
  private readonly heardHandlers: ((heard: boolean) => void)[] = [];
  private peersHeard = true;

  constructor(private readonly deps: RealtimeDeps) {
    this.recovery = new RecoveryScreening({
      logger: deps.logger,
      people: deps.people,
      sessionIsCurrent: deps.sessionIsCurrent,
      unreadable: (caller, groupIds) => this.unreadable(caller, groupIds),
    });
  }

  /**
   * Tell the node's other processes (through the Redis adapter, in order with the room events this process
   * sends after it); nothing to do with one process.
   */
  toPeers(event: string, payload: unknown): void {
    // Only the Redis adapter has peers (the in-memory adapter refuses serverSideEmit). While Redis is down
    // nothing is sent: the adapter publishes these without waiting, and the refusal would go unhandled;
    // peers drop what they kept when they hear again (onPeersHeard).
    if (this.redis?.isReady) this.io?.serverSideEmit(event as never, payload as never);
  }

  /**
   * Resolves once everything sent with `toPeers` so far is in Redis: a PING on the connection that sent it
   * (answered after the XADDs before it). At once without Redis or while it is down (nothing was sent).
   */
  async peersReached(): Promise<void> {
    if (this.redis?.isReady) await this.redis.ping();
  }

  /** Follow whether the other processes can be heard: false when Redis goes down, true when it is back. */
  onPeersHeard(handler: (heard: boolean) => void): void {
    this.heardHandlers.push(handler);
  }

  private setPeersHeard(heard: boolean): void {
    if (heard === this.peersHeard) return;
    this.peersHeard = heard;
    for (const handler of this.heardHandlers) handler(heard);
  }

  /** Hear what the node's other processes send with `toPeers`. */
  onPeers(event: string, handler: (payload: unknown) => void): void {
    this.peerHandlers.push([event, handler]);
    this.io?.on(event as never, handler as never);
  }

  /** Connections on this process and its rooms by kind (`group:…` counts as `group`), for the metrics. */
  census(): { connections: number; rooms: Record<string, number> } | undefined {
    const io = this.io;
    if (!io) return undefined;
    const rooms: Record<string, number> = {};
    const namespace = io.of('/');
    for (const room of namespace.adapter.rooms.keys()) {
      // Each socket's own room (its id) is not one of ours.
      if (namespace.adapter.sids.has(room)) continue;
      const kind = room.slice(0, room.indexOf(':')) || 'other';
      rooms[kind] = (rooms[kind] ?? 0) + 1;
    }
    return { connections: io.engine.clientsCount, rooms };
  }

  /** Whether the Redis connection is up; undefined without REDIS_URL. */
  redisReady(): boolean | undefined {
    return this.redis ? this.redis.isReady : undefined;
  }

  async attach(server: http.Server): Promise<void> {
    const origin = new URL(this.deps.publicUrl).origin;
    const io = new Server<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>(
      server,
      {
        // The web client loads /socket.io/socket.io.min.js (the bundle socket.io ships with, same version).
        serveClient: true,
        maxHttpBufferSize: 16 * 1024,
        connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: true },
        // A browser always sends Origin: sockets from other sites are refused (cross-site WebSocket hijacking).
        allowRequest: (req, callback) => {
          const from = req.headers.origin;
          callback(null, from === undefined || from === origin);
        },
      },
    );
    if (this.deps.redisUrl) {
      this.redis = createClient({ url: this.deps.redisUrl });
      this.redis.on('error', (err: unknown) => {
        this.setPeersHeard(false);
        this.deps.logger.error({ err }, 'redis connection error');
      });
      this.redis.on('end', () => this.setPeersHeard(false));
      this.redis.on('reconnecting', () => this.setPeersHeard(false));
      this.redis.on('ready', () => this.setPeersHeard(true));
      await this.redis.connect();
      // Events raised while Redis is away reach the other processes once it is back (redis.publisher.ts).
      io.adapter(orderedAdapter(holdingPublisher(this.redis, this.deps.logger)));
      this.recovery.useRedis(this.redis);
    }
    this.recovery.screen(io.of('/'));
    for (const middleware of this.deps.handshake) {
      io.engine.use(
        (
          req: IncomingMessage & { _query?: Record<string, string> },
          res: http.ServerResponse,
          next: (err?: unknown) => void,
        ) => {
          // Only the handshake carries the session; later HTTP long-polling requests need not.
          if (req._query?.sid === undefined) middleware(req as Request, res as never, next);
          else next();
        },
      );
    }
    io.on('connection', (socket) => this.connected(socket));
    for (const [event, handler] of this.peerHandlers) io.on(event as never, handler as never);
    this.io = io;
  }

  /** Which of these groups the caller may no longer read (each read once). */
  private async unreadable(caller: Caller, groupIds: Iterable<string>): Promise<Set<string>> {
    const lost = new Set<string>();
    for (const groupId of new Set(groupIds)) if (!(await this.mayRead(caller, groupId))) lost.add(groupId);
    return lost;
  }

  private connected(socket: NodeSocket) {
    const current = this.deps.callerOf(socket.request as Request);
    // What a refusal says is said in the person's language (docs/api/problems.md, "Language").
    const language = readerLanguage(socket.request as Request);
    // A visitor's request has a session id too (a fresh one each time, never stored): only a signed-in
    // person's session is theirs to keep.
    const sessionId =
      current.kind === 'person'
        ? (((socket.request as Request).sessionID as string | undefined) ?? null)
        : null;
    if (socket.recovered) {
      // Screened before it was restored (recovery.screening.ts); a cookie for someone else since is a new start.
      if (sessionId !== socket.data.sessionId || callerKey(current) !== callerKey(socket.data.caller)) {
        socket.disconnect(true);
        return;
      }
      // A removal between the screening and the restore found no socket to take out: check once more.
      void this.recheckSocket(socket);
    } else {
      socket.data.caller = current;
      socket.data.sessionId = sessionId;
      socket.data.rooms = {};
      if (current.kind === 'person') void socket.join(roomOf.user(current.personId));
      if (sessionId) void socket.join(roomOf.session(sessionId));
    }
    socket.on('disconnect', (reason) => this.recovery.dropped(socket, reason));
    // Each event costs database reads: a socket gets EVENTS_PER_WINDOW of them per window, then 429 acks.
    let window = Date.now();
    let used = 0;
    const budget = () => {
      if (Date.now() - window > EVENT_WINDOW_MS) {
        window = Date.now();
        used = 0;
      }
      return ++used <= EVENTS_PER_WINDOW;
    };
    // A socket's room changes apply one at a time, in the order it sent them: a page left and opened again
    // sends `unsubscribe` then `subscribe` for the same room, and each reads the database before it joins or
    // leaves; run side by side under load, the leave could land after the join and the page would hear
    // nothing more (docs/realtime.md, "Client → server").
    let roomChanges: Promise<unknown> = Promise.resolve();
    const on = (event: string, handler: (input: z.output<typeof roomInput>) => Promise<string>) => {
      (socket as unknown as Socket).on(event, (payload: unknown, ack: unknown) => {
        const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => undefined;
        if (!budget()) {
          reply({
            ok: false,
            error: problemOf(new RateLimitedError(msg`Too many ${event} requests; slow down.`), language),
          });
          return;
        }
        const parsed = roomInput.safeParse(payload);
        if (!parsed.success) {
          const again = roomInput.safeParse(payload, { error: frenchIssues });
          const fields = fieldProblems(parsed.error, 'payload', again.success ? [] : again.error.issues);
          reply({
            ok: false,
            error: problemOf(new ValidationError(msg`The ${event} payload is not valid.`, fields), language),
          });
          return;
        }
        const change = roomChanges.then(() => handler(parsed.data));
        roomChanges = change.catch(() => undefined);
        change.then(
          (room) => reply({ ok: true, room }),
          (err: unknown) => {
            if (!(err instanceof DomainError)) this.deps.logger.error({ err, event }, 'socket event failed');
            reply({ ok: false, error: problemOf(err, language) });
          },
        );
      });
    };
    on('subscribe', async ({ room }) => {
      const { name, groupId } = await this.resolve(socket.data.caller, room);
      const max = this.deps.maxRoomsPerSocket;
      if (!(name in socket.data.rooms) && Object.keys(socket.data.rooms).length >= max)
        throw new RateLimitedError(
          msg`A connection follows at most ${max} groups and threads; unsubscribe from some first.`,
        );
      await socket.join([name, roomOf.anyOf(groupId)]);
      socket.data.rooms = { ...socket.data.rooms, [name]: groupId };
      // Access lost between the check and the join (a removal's recheck did not see this socket yet).
      if (!(await this.mayRead(socket.data.caller, groupId))) {
        await leaveGroup(socket, groupId);
        throw new NotFoundError(
          room.kind === 'group' ? msg`No group ${room.group}.` : msg`No thread ${room.id}.`,
        );
      }
      return name;
    });
    on('unsubscribe', async ({ room }) => {
      const { name, groupId } = await this.resolve(socket.data.caller, room);
      await socket.leave(name);
      const rooms = { ...socket.data.rooms };
      delete rooms[name];
      socket.data.rooms = rooms;
      if (!Object.values(rooms).includes(groupId)) await socket.leave(roomOf.anyOf(groupId));
      return name;
    });
  }

  /** The room a subscription names, if the caller may read it (404 otherwise, as REST answers). */
  private async resolve(caller: Caller, room: z.output<typeof roomInput>['room']) {
    if (room.kind === 'group') {
      const { group } = await this.deps.groups.load(caller, room.group, 'read');
      return { name: roomOf.group(group._id.toHexString()), groupId: group._id.toHexString() };
    }
    const [thread] = await this.deps.threads.threadsByIds([new ObjectId(room.id)]);
    const notFound = msg`No thread ${room.id}.`;
    if (!thread) throw new NotFoundError(notFound);
    await this.deps.groups.loadById(caller, thread.groupId, 'read', notFound);
    return { name: roomOf.thread(room.id), groupId: thread.groupId.toHexString() };
  }

  /**
   * Take sockets out of a group's rooms when they may no longer read it (removed, banned, group made
   * private or deleted), on every process. `userId` narrows it to that person's sockets. Each person's
   * right is read once, however many sockets they have, a batch of people at a time. A user-wide
   * disconnect covers a socket of that user in the group on a process that was slow to answer.
   */
  async recheck(groupId: string, userId?: string): Promise<void> {
    try {
      await this.recheckOnce(groupId, userId);
    } catch (err) {
      // Rights could not be read, or another process did not answer in time: whoever might have lost
      // access is disconnected on every process (a broadcast that needs no answer), never left in.
      this.deps.logger.error({ err, groupId, userId }, 'room recheck failed; disconnecting instead');
      this.io?.in(userId ? roomOf.user(userId) : roomOf.anyOf(groupId)).disconnectSockets(true);
    }
  }

  private async recheckOnce(groupId: string, userId?: string): Promise<void> {
    const io = this.io;
    if (!io) return;
    const inGroup = roomOf.anyOf(groupId);
    const sockets = userId
      ? (await io.in(roomOf.user(userId)).fetchSockets()).filter((s) => s.rooms.has(inGroup))
      : await io.in(inGroup).fetchSockets();
    const byActor = new Map<string, { caller: Caller; sockets: typeof sockets }>();
    for (const socket of sockets) {
      const key = callerKey(socket.data.caller);
      const entry = byActor.get(key) ?? { caller: socket.data.caller, sockets: [] };
      entry.sockets.push(socket);
      byActor.set(key, entry);
    }
    const people = [...byActor.values()];
    for (let i = 0; i < people.length; i += RECHECK_BATCH) {
      await Promise.all(
        people.slice(i, i + RECHECK_BATCH).map(async ({ caller, sockets: theirs }) => {
          if (await this.mayRead(caller, groupId)) return;
          await Promise.all(theirs.map((socket) => leaveGroup(socket, groupId)));
        }),
      );
    }
  }

  /** Take one socket out of the groups it may no longer read; if that cannot be read, let it go. */
  private async recheckSocket(socket: NodeSocket): Promise<void> {
    try {
      const lost = await this.unreadable(socket.data.caller, Object.values(socket.data.rooms ?? {}));
      for (const room of roomsOf(socket.data.rooms, lost)) await socket.leave(room);
    } catch (err) {
      this.deps.logger.error({ err }, 'recovered socket recheck failed; disconnecting');
      socket.disconnect(true);
    }
  }

  /** Whether the caller may read the group now; a database failure is thrown, not taken for an answer. */
  private mayRead(caller: Caller, groupId: string): Promise<boolean> {
    return this.deps.groups.loadById(caller, new ObjectId(groupId), 'read', 'gone').then(
      () => true,
      (err: unknown) => {
        if (err instanceof DomainError) return false;
        throw err;
      },
    );
  }

  /** Disconnect the sockets of a session that signed out (the person's other sessions keep theirs). */
  endSession(sessionId: string): void {
    this.io?.in(roomOf.session(sessionId)).disconnectSockets(true);
  }

  /** Disconnect every socket of a person (deactivated, merged). */
  disconnectUser(userId: string): void {
    this.io?.in(roomOf.user(userId)).disconnectSockets(true);
  }

  async close(): Promise<void> {
    const io = this.io;
    this.io = undefined;
    if (io) await new Promise<void>((resolve) => io.close(() => resolve()));
    // Redis away: nothing to say goodbye to, and a polite close would wait for it to come back.
    if (this.redis?.isReady) await this.redis.close().catch(() => undefined);
    else this.redis?.destroy();
  }
}
