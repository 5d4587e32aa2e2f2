import type { Caller } from '../core/caller.js';

/** What a socket remembers: who it is, and which group each of its rooms belongs to. */
export interface SocketData {
  caller: Caller;
  /** The session the socket was opened with (recovery checks it is still signed in). */
  sessionId: string | null;
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

/** Every room of these groups among a socket's rooms: each group's own `in-group` room, and theirs. */
export function roomsOf(rooms: Record<string, string> | undefined, groupIds: Set<string>): string[] {
  return [
    ...[...groupIds].map((g) => roomOf.anyOf(g)),
    ...Object.entries(rooms ?? {})
      .filter(([, g]) => groupIds.has(g))
      .map(([r]) => r),
  ];
}

/** Leave every room of one group: its own, and each of its threads' the socket joined. */
export async function leaveGroup(
  socket: { data: SocketData; leave(room: string): unknown },
  groupId: string,
): Promise<void> {
  for (const room of roomsOf(socket.data.rooms, new Set([groupId]))) await socket.leave(room);
}
