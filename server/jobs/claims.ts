import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { isDuplicateKey } from '../db/errors.js';

/**
 * One claim of one piece of work, in `job_claims`, shared by every queue of the job system (jobs and
 * deliveries): taking a claim is inserting its unique `_id`, the one write that is atomic on MongoDB and
 * FerretDB alike (FerretDB's updates read and write back).
 */
export interface ClaimDoc {
  _id: string;
  /** The job claimed (job queue); deliveries are named by the `_id` alone. */
  jobId?: ObjectId;
  owner: string;
  at: Date;
}

export function claimsOf(db: Db): Collection<ClaimDoc> {
  return db.collection<ClaimDoc>(collections.jobClaims);
}

/** Insert these claims in one round trip; returns the `_id`s this caller won (the others were taken). */
export async function takeClaims(claims: Collection<ClaimDoc>, wanted: ClaimDoc[]): Promise<Set<string>> {
  if (!wanted.length) return new Set();
  try {
    await claims.insertMany(wanted, { ordered: false });
    return new Set(wanted.map((c) => c._id));
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const lost = new Set(
      ((err as { writeErrors?: { index: number }[] }).writeErrors ?? []).map((e) => wanted[e.index]!._id),
    );
    // A bulk error that names no write cannot tell who won: claim nothing, the work is polled again.
    if (!lost.size) return new Set();
    return new Set(wanted.filter((c) => !lost.has(c._id)).map((c) => c._id));
  }
}
