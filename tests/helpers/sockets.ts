import { io, type Socket } from 'socket.io-client';
import type { ApiClient } from './browser.js';

export type Room = { kind: 'group'; group: string } | { kind: 'thread'; id: string };
export interface Received {
  event: string;
  payload: Record<string, unknown>;
}

/** A real socket.io-client connection, with the client's session cookie, recording every event. */
export async function connectSocket(nodeUrl: string, as?: ApiClient) {
  const cookie = as
    ? [...as.browser.cookies(new URL(nodeUrl).origin)].map(([k, v]) => `${k}=${v}`).join('; ')
    : undefined;
  const socket: Socket = io(nodeUrl, {
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...(cookie ? { extraHeaders: { cookie } } : {}),
  });
  const received: Received[] = [];
  socket.onAny((event: string, payload: Record<string, unknown>) => received.push({ event, payload }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (event: string, payload: unknown) =>
    socket.timeout(5000).emitWithAck(event, payload) as Promise<{
      ok: boolean;
      room?: string;
      error?: { status: number; type: string; detail?: string };
    }>;
  return {
    socket,
    received,
    subscribe: (room: Room) => ack('subscribe', { room }),
    unsubscribe: (room: Room) => ack('unsubscribe', { room }),
    ack,
    of: (event: string) => received.filter((r) => r.event === event).map((r) => r.payload),
    close: () => socket.disconnect(),
  };
}

/** Wait until `check` holds, or give up after `ms` (then the caller's expectation reports the state). */
export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
