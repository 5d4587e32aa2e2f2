import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Request, RequestHandler } from 'express';
import { ObjectId } from 'mongodb';
import { createClient } from 'redis';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { Actor } from '../core/actor.js';
import {
  DomainError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
  type ProblemDetails,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GroupService } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';

/** What a socket remembers: who it is, and which group each of its rooms belongs to. */
export interface SocketData {
  actor: Actor;
  /** Room name → group id, for the group and thread rooms this socket joined. */
  rooms: Record<string, string>;
}

export const roomOf = {
  user: (id: string) => `user:${id}`,
  /** Every socket opened with one session cookie (signed out together). */
  session: (id: string) => `session:${id}`,
  group: (id: string) => `group:${id}`,
  thread: (id: string) => `thread:${id}`,
  /** Every socket in a room of the group's (the group's own or one of its threads'). */
  anyOf: (groupId: string) => `in-group:${groupId}`,
};

const roomInput = z
  .object({
    room: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('group'),
        group: z.string().regex(/^[a-z0-9][a-z0-9-]{1,39}$/, 'expected a group handle'),
      }),
      z.object({ kind: z.literal('thread'), id: z.string().regex(/^[0-9a-f]{24}$/, 'expected a thread id') }),
    ]),
  })
  .strict();

const EVENTS_PER_WINDOW = 30;
const EVENT_WINDOW_MS = 10_000;

export type Ack = (answer: { ok: true; room: string } | { ok: false; error: ProblemDetails }) => void;

/** An error as the ack of a socket event: the same problem details the REST API answers with. */
function problemOf(err: unknown): ProblemDetails {
  if (err instanceof DomainError) return err.toProblem();
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
  actorOf: (req: Request) => Actor;
}

/**
 * Socket.IO on the node's HTTP server. The handshake reads the Express session (no token in the URL);
 * sockets join `user:<id>` at once, and `group:<id>` / `thread:<id>` only when the same rules that govern
 * REST reads allow it. Several processes share rooms through Redis Streams when REDIS_URL is set.
 */
/** Leave every room of one group: its own, and each of its threads' the socket joined. */
async function leaveGroup(
  socket: { data: SocketData; leave(room: string): unknown },
  groupId: string,
): Promise<void> {
  const rooms = Object.entries(socket.data.rooms ?? {})
    .filter(([, g]) => g === groupId)
    .map(([r]) => r);
  await socket.leave(roomOf.anyOf(groupId));
  for (const room of rooms) await socket.leave(room);
}

export class RealtimeServer {
  io: Server<Record<string, never>, Record<string, never>, Record<string, never>, SocketData> | undefined;
  private redis: ReturnType<typeof createClient> | undefined;

  constructor(private readonly deps: RealtimeDeps) {}

  async attach(server: http.Server): Promise<void> {
    const origin = new URL(this.deps.publicUrl).origin;
    const io = new Server<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>(
      server,
      {
        // The web client loads /socket.io/socket.io.min.js (the bundle socket.io ships with, same version).
        serveClient: true,
        maxHttpBufferSize: 16 * 1024,
        connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
        // A browser always sends Origin: sockets from other sites are refused (cross-site WebSocket hijacking).
        allowRequest: (req, callback) => {
          const from = req.headers.origin;
          callback(null, from === undefined || from === origin);
        },
      },
    );
    if (this.deps.redisUrl) {
      this.redis = createClient({ url: this.deps.redisUrl });
      this.redis.on('error', (err: unknown) => this.deps.logger.error({ err }, 'redis connection error'));
      await this.redis.connect();
      io.adapter(createAdapter(this.redis));
    }
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
    this.io = io;
  }

  private connected(
    socket: Socket<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>,
  ) {
    if (socket.recovered) {
      // Restored without the handshake middleware: check again what may have changed during the drop.
      void this.revalidate(socket);
    } else {
      socket.data.actor = this.deps.actorOf(socket.request as Request);
      socket.data.rooms = {};
      if (socket.data.actor.kind === 'user') void socket.join(roomOf.user(socket.data.actor.userId));
      const sessionId = (socket.request as Request).sessionID as string | undefined;
      if (sessionId) void socket.join(roomOf.session(sessionId));
    }
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
    const on = (event: string, handler: (input: z.output<typeof roomInput>) => Promise<string>) => {
      (socket as unknown as Socket).on(event, (payload: unknown, ack: unknown) => {
        const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => undefined;
        if (!budget()) {
          reply({
            ok: false,
            error: new RateLimitedError(`Too many ${event} requests; slow down.`).toProblem(),
          });
          return;
        }
        const parsed = roomInput.safeParse(payload);
        if (!parsed.success) {
          const fields = parsed.error.issues.map((i) => ({
            field: ['payload', ...i.path].join('.'),
            message: i.message,
          }));
          reply({
            ok: false,
            error: new ValidationError(`The ${event} payload is not valid.`, fields).toProblem(),
          });
          return;
        }
        handler(parsed.data).then(
          (room) => reply({ ok: true, room }),
          (err: unknown) => {
            if (!(err instanceof DomainError)) this.deps.logger.error({ err, event }, 'socket event failed');
            reply({ ok: false, error: problemOf(err) });
          },
        );
      });
    };
    on('subscribe', async ({ room }) => {
      const { name, groupId } = await this.resolve(socket.data.actor, room);
      await socket.join([name, roomOf.anyOf(groupId)]);
      socket.data.rooms = { ...socket.data.rooms, [name]: groupId };
      return name;
    });
    on('unsubscribe', async ({ room }) => {
      const { name, groupId } = await this.resolve(socket.data.actor, room);
      await socket.leave(name);
      const rooms = { ...socket.data.rooms };
      delete rooms[name];
      socket.data.rooms = rooms;
      if (!Object.values(rooms).includes(groupId)) await socket.leave(roomOf.anyOf(groupId));
      return name;
    });
  }

  /** The room a subscription names, if the actor may read it (404 otherwise, as REST answers). */
  private async resolve(actor: Actor, room: z.output<typeof roomInput>['room']) {
    if (room.kind === 'group') {
      const { group } = await this.deps.groups.load(actor, room.group, 'read');
      return { name: roomOf.group(group._id.toHexString()), groupId: group._id.toHexString() };
    }
    const thread = await this.deps.threads.threads.findOne({ _id: new ObjectId(room.id) });
    const notFound = `No thread ${room.id}.`;
    if (!thread) throw new NotFoundError(notFound);
    await this.deps.groups.loadById(actor, thread.groupId, 'read', notFound);
    return { name: roomOf.thread(room.id), groupId: thread.groupId.toHexString() };
  }

  /**
   * Take sockets out of a group's rooms when they may no longer read it (removed, banned, group made
   * private or deleted), on every process. `userId` narrows it to one person's sockets.
   */
  async recheck(groupId: string, userId?: string): Promise<void> {
    const io = this.io;
    if (!io) return;
    const sockets = await io.in(roomOf.anyOf(groupId)).fetchSockets();
    for (const socket of sockets) {
      const actor = socket.data.actor;
      if (userId && (actor.kind !== 'user' || actor.userId !== userId)) continue;
      if (!(await this.mayRead(actor, groupId))) await leaveGroup(socket, groupId);
    }
  }

  /** A recovered socket keeps only the rooms its person may still read; a deactivated person is let go. */
  private async revalidate(
    socket: Socket<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>,
  ) {
    const actor = socket.data.actor;
    if (actor.kind === 'user') {
      const user = await this.deps.people.users.findOne({ _id: new ObjectId(actor.userId) });
      if (user?.status !== 'active') {
        socket.disconnect(true);
        return;
      }
    }
    // Each group once, however many of its rooms (group, threads) the socket is in.
    for (const groupId of new Set(Object.values(socket.data.rooms ?? {})))
      if (!(await this.mayRead(actor, groupId))) await leaveGroup(socket, groupId);
  }

  private mayRead(actor: Actor, groupId: string): Promise<boolean> {
    return this.deps.groups.loadById(actor, new ObjectId(groupId), 'read', 'gone').then(
      () => true,
      () => false,
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
    await this.redis?.quit().catch(() => undefined);
  }
}
