import { createRequire } from 'node:module';
import path from 'node:path';
import type { CommandSucceededEvent } from 'mongodb';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * A node with metrics on (METRICS_ENABLED, the default) has the driver time every command through command
 * monitoring. The driver (mongodb 7.9) decoded every answer a second time for its event, a page's reads
 * included, although the metrics read only the command's name and duration: about 0.3 ms of CPU more for a
 * 20-thread page's `find`. The project patches the driver (patches/mongodb+7.9.0.patch,
 * docs/adr/0051-command-events-decode-on-read.md): an answer read through a cursor is decoded for the event
 * only if a listener reads `reply`, and then it is the same answer.
 */
const require = createRequire(import.meta.url);
// The driver's own module (the one `mongodb` loaded), to count how often an answer is decoded whole.
const responses = require(
  path.join(path.dirname(require.resolve('mongodb')), 'cmap', 'wire_protocol', 'responses.js'),
) as { MongoDBResponse: { prototype: { toObject: (...args: unknown[]) => unknown } } };

describe('command monitoring, as the metrics use it', () => {
  let t: TestDatabase;
  const events: CommandSucceededEvent[] = [];
  let decoded = 0;
  const toObject = responses.MongoDBResponse.prototype.toObject;

  beforeAll(async () => {
    t = await openTestDatabase('monitoring', { monitorCommands: true });
    t.client.on('commandSucceeded', (e) => events.push(e));
    const body = 'Budget notes for the quarter. '.repeat(40);
    await t.db
      .collection('threads')
      .insertMany(Array.from({ length: 20 }, (_, i) => ({ i, title: `Thread ${i}`, body })));
    responses.MongoDBResponse.prototype.toObject = function (this: unknown, ...args: unknown[]) {
      decoded++;
      return toObject.apply(this, args);
    };
  });
  afterAll(async () => {
    responses.MongoDBResponse.prototype.toObject = toObject;
    await t?.cleanup();
  });

  it('does not decode a page’s read a second time for its event, and its reply reads the same', async () => {
    events.length = 0;
    decoded = 0;
    const docs = await t.db.collection('threads').find({}).sort({ i: 1 }).toArray();
    expect(docs).toHaveLength(20);
    const find = events.find((e) => e.commandName === 'find');
    expect(find?.duration).toBeGreaterThanOrEqual(0);
    // What the metrics read (the command's name and duration) decoded nothing.
    expect(decoded).toBe(0);
    // Read, the event's reply is the server's answer, whole.
    const reply = find!.reply as { ok: number; cursor: { firstBatch: { title: string }[] } };
    expect(reply.ok).toBe(1);
    expect(reply.cursor.firstBatch.map((d) => d.title)).toEqual(docs.map((d) => d.title));
    expect(decoded).toBe(1);
    expect(find!.reply).toBe(reply);
  });
});
