import { Readable } from 'node:stream';
import type { Binary, Db, ObjectId } from 'mongodb';

/** GridFS chunks read per round trip: about 1 MiB at the default chunk size. */
const CHUNKS_PER_BATCH = 4;

interface ChunkDoc {
  n: number;
  data: Binary;
}

/**
 * Bytes `start` to `end` (exclusive) of a GridFS file, read in small batches so a download holds about
 * one MiB at a time whatever the file's size. (The driver's own download stream leaves the batch size to
 * the server, which may send tens of MiB per batch.) One query, so the server scans the chunks once.
 */
export function readBlob(db: Db, bucket: string, id: ObjectId, start: number, end: number): Readable {
  async function* chunks() {
    if (end <= start) return;
    const file = await db.collection(`${bucket}.files`).findOne({ _id: id });
    if (!file) throw new Error(`GridFS file ${id.toHexString()} is missing from ${bucket}`);
    const chunkSize = Number(file.chunkSize);
    const first = Math.floor(start / chunkSize);
    const last = Math.floor((end - 1) / chunkSize);
    const cursor = db
      .collection<ChunkDoc>(`${bucket}.chunks`)
      .find({ files_id: id, n: { $gte: first, $lte: last } }, { projection: { _id: 0, n: 1, data: 1 } })
      .sort({ n: 1 })
      .batchSize(CHUNKS_PER_BATCH);
    let expected = first;
    try {
      for await (const chunk of cursor) {
        if (chunk.n !== expected)
          throw new Error(`GridFS file ${id.toHexString()} is missing chunk ${expected}`);
        expected++;
        const bytes = Buffer.from(chunk.data.buffer);
        const from = chunk.n === first ? start - first * chunkSize : 0;
        const to = chunk.n === last ? end - last * chunkSize : bytes.length;
        yield bytes.subarray(from, to);
      }
    } finally {
      await cursor.close();
    }
    if (expected !== last + 1) throw new Error(`GridFS file ${id.toHexString()} ends early`);
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1024 * 1024 });
}
