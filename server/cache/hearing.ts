/** The node's other processes, as a cache reaches them (RealtimeServer: the ordered Redis stream). */
export interface Peers {
  toPeers(event: string, payload: unknown): void;
  onPeers(event: string, handler: (payload: unknown) => void): void;
  /** Called when the other processes stop being heard (false) and are heard again (true). */
  onPeersHeard(handler: (heard: boolean) => void): void;
}

/**
 * Whether a cache of this process may keep anything (pages, records, sessions: docs/adr/0027, 0034, 0038).
 * While the node's other processes cannot be heard (Redis is down), their changes would be missed: nothing is
 * kept. Changes made elsewhere during the gap never arrive: everything kept is forgotten when the other
 * processes stop being heard and again when they are heard.
 */
export class Hearing {
  private deaf = false;

  constructor(private readonly forgetAll: () => void) {}

  /** Whether the other processes can be heard (always, with one process). */
  get hears(): boolean {
    return !this.deaf;
  }

  unheard(): void {
    this.deaf = true;
    this.forgetAll();
  }

  heard(): void {
    this.deaf = false;
    this.forgetAll();
  }

  /** Follow the channel's state (RealtimeServer.onPeersHeard follows the Redis connection). */
  follow(peers: Pick<Peers, 'onPeersHeard'>): void {
    peers.onPeersHeard((heard) => (heard ? this.heard() : this.unheard()));
  }
}
