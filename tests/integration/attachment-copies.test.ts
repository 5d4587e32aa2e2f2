import { Readable } from 'node:stream';
import { ObjectId } from 'mongodb';
import pino from 'pino';
import { ensureCollections } from '../../server/db/collections.js';
import { AttachmentCopies, type AttachmentOffer } from '../../server/files/attachment.copies.js';
import { FileRepository, versionId } from '../../server/files/file.repository.js';
import { JobQueue } from '../../server/jobs/job.queue.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * Copies of attachments written on other nodes (docs/adr/0029-attachments-across-nodes.md). A post can reach
 * this node twice at once (its Create and the group's Announce of it): both deliveries keep its attachment,
 * and the copy that stays must be whole, whichever wrote first.
 */
describe('copies of attachments from other nodes', () => {
  let t: TestDatabase;
  let repo: FileRepository;
  let copies: AttachmentCopies;
  const logger = pino({ level: 'silent' });
  beforeAll(async () => {
    t = await openTestDatabase('copies');
    await ensureCollections(t.db);
    repo = new FileRepository(t.db);
    copies = new AttachmentCopies({
      repo,
      jobs: new JobQueue(t.db, logger),
      limits: { maxFileBytes: 1_000_000, groupQuotaBytes: 0, policy: { allowed: [], denied: [] } },
      logger,
    });
  });
  afterAll(() => t?.cleanup());

  it('keeps one whole copy when two deliveries of the same post keep it at once', async () => {
    const bytes = Buffer.from('region,spent\nnorth,120\nsouth,80\n'.repeat(200));
    const offer: AttachmentOffer = {
      id: new ObjectId(),
      groupId: new ObjectId(),
      audience: 'public',
      authorId: new ObjectId(),
      attachedTo: { kind: 'threads', id: new ObjectId() },
      url: 'https://a.example/ap/files/survey',
      name: 'survey.csv',
      declaredType: 'text/csv',
      declaredSize: bytes.length,
    };
    // The bytes come in two parts, so both copies are under way before either is written.
    const source = () =>
      Promise.resolve(
        Readable.from(
          (async function* () {
            yield bytes.subarray(0, 100);
            await new Promise((r) => setTimeout(r, 50));
            yield bytes.subarray(100);
          })(),
        ),
      );
    const [first, second] = await Promise.all([copies.keep(offer, source), copies.keep(offer, source)]);
    expect(first.fileId.equals(offer.id) && second.fileId.equals(offer.id)).toBe(true);
    expect(first.unavailable ?? second.unavailable).toBeUndefined();

    // The file, its version and its bytes are there, counted once against the group.
    const file = await repo.files.findOne({ _id: offer.id });
    expect(file).toMatchObject({ version: 1, size: bytes.length });
    const version = await repo.versions.findOne({ _id: versionId(offer.id, 1) });
    expect(version).not.toBeNull();
    const chunks: Buffer[] = [];
    for await (const chunk of repo.blobs.openDownloadStream(version!.blobId)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(await repo.usedBytes(offer.groupId)).toBe(bytes.length);
    expect(await t.db.collection('blobs.files').countDocuments()).toBe(1);
  });
});
