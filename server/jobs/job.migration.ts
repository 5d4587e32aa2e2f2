import type { Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { NO_LEASE, type JobDoc } from './job.queue.js';

/** Jobs queued before leases were always dates (ADR 0041) get NO_LEASE, so the due query finds them. */
export async function migrateJobLeases(db: Db): Promise<void> {
  await db
    .collection<JobDoc>(collections.jobs)
    .updateMany({ leaseUntil: null as never }, { $set: { leaseUntil: NO_LEASE } });
}
