import type { RequestHandler, Response } from 'express';
import type { MongoClient } from 'mongodb';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';

/**
 * The node's Prometheus metrics (docs/operations.md, "Metrics"), one registry per node so several nodes in
 * one process (tests) never mix. Sources are plugged in by the composition root; each reads what its domain
 * already knows, and nothing here reaches into a domain's collections.
 */

/** What the realtime server tells about itself (server/realtime). */
export interface RealtimeSource {
  /** Connections on this process, and its rooms by kind (`group`, `thread`, `user`, ...). */
  census(): { connections: number; rooms: Record<string, number> } | undefined;
  /** Whether the Redis connection is up; undefined without Redis. */
  redisReady(): boolean | undefined;
}

/** What the delivery worker tells about the queue (server/federation). */
export interface DeliverySource {
  metrics(): Promise<{
    queued: number;
    inFlight: number;
    failed: number;
    hosts: { host: string; state: 'closed' | 'open' | 'half-open'; consecutiveFailures: number }[];
  }>;
  onOutcome(listener: (outcome: DeliveryOutcome, host: string) => void): void;
}
export type DeliveryOutcome = 'delivered' | 'retry' | 'failed' | 'deferred';

/** What the job queue tells (server/jobs). */
export interface JobSource {
  counts(): Promise<{ queue: string; pending: number; failed: number; running: number }[]>;
  onSettled(listener: (queue: string, outcome: JobOutcome, seconds: number) => void): void;
}
export type JobOutcome = 'completed' | 'retried' | 'failed';

export type InboxOutcome = 'accepted' | 'duplicate' | 'refused';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The part of an Express response the metrics read: where the matched route was mounted, and why it failed. */
interface MetricsLocals {
  /** Set by `mountedAt` before a router mounted under a path (`/api/v1`). */
  mount?: string;
  /** The problem type slug the error handler answered with (core/problem.ts). */
  problem?: string;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly httpInFlight: Gauge;
  private readonly dbDuration: Histogram<'command' | 'outcome'>;
  private readonly inbox: Counter<'outcome' | 'reason'>;
  private readonly realtimeEvents: Counter<'event'>;
  private readonly deliveryOutcomes: Counter<'outcome'>;
  private readonly jobOutcomes: Counter<'queue' | 'outcome'>;
  private readonly jobDuration: Histogram<'queue' | 'outcome'>;

  constructor(private readonly logger: Logger) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'ensemble_http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status: time to the last byte of the answer',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.httpInFlight = new Gauge({
      name: 'ensemble_http_requests_in_flight',
      help: 'HTTP requests being answered by this process',
      registers,
    });
    this.dbDuration = new Histogram({
      name: 'ensemble_db_command_duration_seconds',
      help: 'Database commands by name and outcome, as the driver timed them (command monitoring)',
      labelNames: ['command', 'outcome'],
      buckets: DB_BUCKETS,
      registers,
    });
    this.inbox = new Counter({
      name: 'ensemble_federation_inbox_total',
      help: 'Inbox posts: accepted, duplicate (a replay answered without processing) or refused, by problem type',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.realtimeEvents = new Counter({
      name: 'ensemble_realtime_events_total',
      help: 'Socket.IO events this process sent to rooms (every process, through Redis, delivers them)',
      labelNames: ['event'],
      registers,
    });
    this.deliveryOutcomes = new Counter({
      name: 'ensemble_federation_delivery_attempts_total',
      help: 'Delivery attempts per inbox by outcome: delivered, retry (scheduled again), failed (kept as failed), deferred (circuit open)',
      labelNames: ['outcome'],
      registers,
    });
    this.jobOutcomes = new Counter({
      name: 'ensemble_jobs_total',
      help: 'Background jobs run by this process, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'ensemble_job_duration_seconds',
      help: 'Time a background job ran, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** First in the pipeline: times every request and labels it with the route template that answered. */
  http(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      this.httpInFlight.inc();
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.httpInFlight.dec();
        end({
          method: req.method,
          route: this.routeOf(req.route as { path?: unknown } | undefined, res),
          status: String(res.statusCode),
        });
      };
      res.once('finish', finish);
      res.once('close', finish);
      next();
    };
  }

  /**
   * How a kept page answered before the pipeline is timed (server/cache/page.middleware.ts): under the route
   * `kept page`, its children made once per method and status.
   */
  keptPage(): (method: string, status: number, seconds: number) => void {
    const children = new Map<string, { observe(seconds: number): void }>();
    return (method, status, seconds) => {
      const key = `${method} ${status}`;
      let child = children.get(key);
      if (!child) {
        child = this.httpDuration.labels({ method, route: 'kept page', status: String(status) });
        children.set(key, child);
      }
      child.observe(seconds);
    };
  }

  /** Before a router mounted under `mount`: the route template then reads `/api/v1/groups/:group`. */
  mountedAt(mount: string): RequestHandler {
    const prefix = mount === '/' ? '' : mount;
    return (_req, res, next) => {
      (res.locals as MetricsLocals).mount = prefix;
      next();
    };
  }

  private routeOf(route: { path?: unknown } | undefined, res: Response): string {
    const locals = res.locals as MetricsLocals;
    if (route && typeof route.path === 'string') return `${locals.mount ?? ''}${route.path}`;
    // Static files of the web client, or nothing matched: never the raw path (unbounded label values).
    return res.statusCode === 404 || res.statusCode === 405 ? 'unmatched' : 'static';
  }

  /** Command monitoring of the driver (the client must be created with `monitorCommands: true`). */
  watchDatabase(client: MongoClient): () => void {
    const succeeded = (e: { commandName: string; duration: number }) =>
      this.dbDuration.observe({ command: e.commandName, outcome: 'ok' }, e.duration / 1000);
    const failed = (e: { commandName: string; duration: number }) =>
      this.dbDuration.observe({ command: e.commandName, outcome: 'error' }, e.duration / 1000);
    client.on('commandSucceeded', succeeded);
    client.on('commandFailed', failed);
    return () => {
      client.off('commandSucceeded', succeeded);
      client.off('commandFailed', failed);
    };
  }

  watchRealtime(source: RealtimeSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'ensemble_socketio_connections',
      help: 'Socket.IO connections open on this process',
      registers,
      collect() {
        this.set(source.census()?.connections ?? 0);
      },
    });
    new Gauge({
      name: 'ensemble_socketio_rooms',
      help: 'Socket.IO rooms with at least one socket of this process, by kind (group, thread, user, session, in-group)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(source.census()?.rooms ?? {})) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'ensemble_redis_up',
      help: 'Whether the Redis connection for Socket.IO between processes is up (absent without REDIS_URL)',
      registers,
      collect() {
        this.reset();
        const ready = source.redisReady();
        if (ready !== undefined) this.set(ready ? 1 : 0);
      },
    });
  }

  /** Counts one Socket.IO event sent by the realtime bridge. */
  realtimeEvent(event: string): void {
    this.realtimeEvents.inc({ event });
  }

  watchDeliveries(source: DeliverySource): void {
    source.onOutcome((outcome) => this.deliveryOutcomes.inc({ outcome }));
    // One read of the queue per scrape, shared by the gauges below.
    let snapshot: ReturnType<DeliverySource['metrics']> | undefined;
    const read = () => {
      if (!snapshot) {
        snapshot = source.metrics();
        setTimeout(() => (snapshot = undefined), 1000).unref();
      }
      return snapshot;
    };
    const logger = this.logger;
    const registers = [this.registry];
    const gauge = (
      name: string,
      help: string,
      pick: (m: Awaited<ReturnType<DeliverySource['metrics']>>) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          try {
            this.set(pick(await read()));
          } catch (err) {
            logger.warn({ err }, 'delivery metrics could not be read');
          }
        },
      });
    gauge(
      'ensemble_federation_deliveries_queued',
      'Deliveries (inboxes) waiting in the queue, due now or later, all processes',
      (m) => m.queued,
    );
    gauge(
      'ensemble_federation_deliveries_in_flight',
      'Deliveries being sent by this process',
      (m) => m.inFlight,
    );
    gauge(
      'ensemble_federation_deliveries_failed',
      'Deliveries kept as failed (refused for good or attempts used up), all processes',
      (m) => m.failed,
    );
    new Gauge({
      name: 'ensemble_federation_circuit_open',
      help: 'Remote hosts with failures: 1 while the circuit is open or half-open (one probe at a time), 0 when closed',
      labelNames: ['host', 'state'],
      registers,
      async collect() {
        this.reset();
        try {
          for (const h of (await read()).hosts)
            this.set({ host: h.host, state: h.state }, h.state === 'closed' ? 0 : 1);
        } catch (err) {
          logger.warn({ err }, 'delivery metrics could not be read');
        }
      },
    });
  }

  watchJobs(source: JobSource): void {
    source.onSettled((queue, outcome, seconds) => {
      this.jobOutcomes.inc({ queue, outcome });
      this.jobDuration.observe({ queue, outcome }, seconds);
    });
    const logger = this.logger;
    let snapshot: ReturnType<JobSource['counts']> | undefined;
    const read = () => {
      if (!snapshot) {
        snapshot = source.counts();
        setTimeout(() => (snapshot = undefined), 1000).unref();
      }
      return snapshot;
    };
    const registers = [this.registry];
    for (const [name, help, key] of [
      ['ensemble_jobs_pending', 'Jobs waiting to run, by queue, all processes', 'pending'],
      [
        'ensemble_jobs_failed',
        'Jobs kept as failed after their last attempt, by queue, all processes',
        'failed',
      ],
      ['ensemble_jobs_running', 'Jobs this process is running, by queue', 'running'],
    ] as const) {
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        async collect() {
          try {
            for (const row of await read()) this.set({ queue: row.queue }, row[key]);
          } catch (err) {
            logger.warn({ err }, 'job metrics could not be read');
          }
        },
      });
    }
  }

  /**
   * At the head of the inbox chain (server/federation): counts each post once answered, refused ones by the
   * problem type they were answered with.
   */
  inboxObserver(): RequestHandler {
    return (_req, res, next) => {
      res.once('finish', () => {
        const locals = res.locals as MetricsLocals & { inbox?: unknown };
        if (res.statusCode < 300)
          // The guard answers a replay itself, before it records the verified activity.
          this.inbox.inc({ outcome: locals.inbox ? 'accepted' : 'duplicate', reason: '' });
        else this.inbox.inc({ outcome: 'refused', reason: locals.problem ?? `http-${res.statusCode}` });
      });
      next();
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
