import type { RequestHandler } from 'express';
import type { MongoClient, TopologyDescriptionChangedEvent } from 'mongodb';
import { DatabaseUnavailableError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** Server types that take writes: a standalone server, a replica set's primary, a mongos, a load balancer. */
const WRITABLE = new Set(['Standalone', 'RSPrimary', 'Mongos', 'LoadBalancer']);

/**
 * Whether the database can take a request now, as the driver's own server monitoring (SDAM) sees it: no
 * server that takes writes (down, restarting, a replica set electing a primary) closes the gate, and every
 * request is answered 503 at once instead of waiting for server selection to time out. The driver checks
 * the server again every `heartbeatFrequencyMS` (server/db/client.ts) and the gate opens by itself when it
 * answers: the node recovers without a restart (docs/operations.md, "Faults").
 */
export class DatabaseAvailability {
  private writable = true;
  private readonly onChange = (e: TopologyDescriptionChangedEvent) => {
    const servers = [...e.newDescription.servers.values()];
    const writable = servers.some((s) => WRITABLE.has(s.type));
    if (writable === this.writable) return;
    this.writable = writable;
    if (writable) this.logger.warn('database reachable again: serving');
    else
      this.logger.error(
        { servers: servers.map((s) => ({ address: s.address, type: s.type, error: s.error?.message })) },
        'database unreachable: answering 503 until it is back',
      );
  };

  constructor(
    private readonly client: MongoClient,
    private readonly logger: Logger,
  ) {
    client.on('topologyDescriptionChanged', this.onChange);
  }

  get available(): boolean {
    return this.writable;
  }

  /** Before everything that reads the database (sessions included): 503 problem+json while it is away. */
  gate(): RequestHandler {
    return (_req, _res, next) => {
      if (this.writable) return next();
      next(new DatabaseUnavailableError('The database does not answer; try again in a few seconds.'));
    };
  }

  close(): void {
    this.client.off('topologyDescriptionChanged', this.onChange);
  }
}
