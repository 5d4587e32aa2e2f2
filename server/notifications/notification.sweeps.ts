import type { Logger } from '../core/logger.js';
import type { NotificationMail } from './notification.mail.js';
import type { NotificationRepository } from './notification.repository.js';

/**
 * The hourly housekeeping of notifications: digests whose period ended are sent, and notifications past
 * their keeping time are removed (docs/operations.md). Each process runs it; both steps are safe to run at
 * once from several processes.
 */
export class NotificationSweeps {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      mail: Pick<NotificationMail, 'sweepDigests'>;
      repo: Pick<NotificationRepository, 'sweep'>;
      logger: Logger;
      everyMs?: number;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    const { mail, repo, logger } = this.deps;
    this.timer = setInterval(
      () => {
        mail.sweepDigests().catch((err: unknown) => logger.error({ err }, 'digest sweep failed'));
        repo.sweep().catch((err: unknown) => logger.error({ err }, 'notification sweep failed'));
      },
      this.deps.everyMs ?? 60 * 60 * 1000,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
