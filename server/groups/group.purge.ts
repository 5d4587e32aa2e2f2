import type { Logger } from '../core/logger.js';
import type { FileService } from '../files/file.service.js';
import type { ImageStore } from '../files/image.store.js';
import type { ReportRepository } from '../threads/report.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { GroupRepository } from './group.repository.js';

/**
 * Groups deleted longer ago than the retention period are removed for good, with everything in them.
 * A sweep on an interval stands in for a TTL index (FerretDB has none); running it twice, or in several
 * processes at once, is harmless.
 */
export class GroupPurge {
  private timer: NodeJS.Timeout | undefined;

  private readonly groups: GroupRepository;
  private readonly threads: ThreadRepository;
  private readonly reports: ReportRepository;
  private readonly files: Pick<FileService, 'purge'>;
  private readonly images: ImageStore;
  private readonly retentionMs: number;
  private readonly logger: Logger;

  constructor(deps: {
    groups: GroupRepository;
    threads: ThreadRepository;
    reports: ReportRepository;
    files: Pick<FileService, 'purge'>;
    images: ImageStore;
    retentionMs: number;
    logger: Logger;
  }) {
    ({
      groups: this.groups,
      threads: this.threads,
      reports: this.reports,
      files: this.files,
      images: this.images,
      retentionMs: this.retentionMs,
      logger: this.logger,
    } = deps);
  }

  /** Purge what expired before `now` (groups, and files deleted on their own); returns the handles purged. */
  async sweep(now = new Date()): Promise<string[]> {
    await this.files.purge({ deletedBefore: new Date(now.getTime() - this.retentionMs) });
    const expired = await this.groups.expiredGroups(new Date(now.getTime() - this.retentionMs));
    for (const group of expired) {
      const groupId = group._id;
      // Children first, the group last: a sweep cut short is finished by the next one.
      await this.threads.removeGroupRecords(groupId, await this.threads.postIdsOfGroup(groupId));
      await this.reports.removeGroup(groupId);
      while (await this.files.purge({ groupId })) {
        // in batches, until none is left
      }
      await this.threads.removeGroupPosts(groupId);
      await this.groups.removeGroupRecords(groupId);
      await this.images.remove(group.avatar);
      await this.images.remove(group.banner);
      await this.groups.removeGroup(group);
      this.logger.info({ group: group.handle }, 'deleted group purged after its retention period');
    }
    return expired.map((g) => g.handle);
  }

  start(everyMs = 60 * 60 * 1000): void {
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.logger.error({ err }, 'group purge failed'));
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
