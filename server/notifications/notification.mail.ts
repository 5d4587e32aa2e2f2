import { createHmac, timingSafeEqual } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { escapeHtml } from '../core/html.js';
import type { Logger } from '../core/logger.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { JobQueue } from '../jobs/job.queue.js';
import type { Mailer } from '../mail/mailer.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { NotificationDoc, NotificationKind, NotificationRepository } from './notification.repository.js';
import { insertOnce } from '../db/errors.js';

type Locale = 'en' | 'fr';

const sentence: Record<NotificationKind, Record<Locale, (who: string, where: string) => string>> = {
  reply: {
    en: (w, g) => `${w} replied to your post in ${g}`,
    fr: (w, g) => `${w} a répondu à votre message dans ${g}`,
  },
  mention: { en: (w, g) => `${w} mentioned you in ${g}`, fr: (w, g) => `${w} vous a mentionné dans ${g}` },
  'thread.activity': {
    en: (w, g) => `${w} replied in a discussion you follow in ${g}`,
    fr: (w, g) => `${w} a répondu dans une discussion que vous suivez dans ${g}`,
  },
  'thread.new': {
    en: (w, g) => `${w} started a discussion in ${g}`,
    fr: (w, g) => `${w} a lancé une discussion dans ${g}`,
  },
  'join.request': {
    en: (w, g) => `${w} asks to join ${g}`,
    fr: (w, g) => `${w} demande à se joindre à ${g}`,
  },
  invitation: { en: (w, g) => `${w} invites you to ${g}`, fr: (w, g) => `${w} vous invite à ${g}` },
};
const words = {
  en: {
    subject: (n: number) => (n === 1 ? 'New activity on Ensemble' : `${n} new notifications on Ensemble`),
    digest: (n: number) => `Your Ensemble digest: ${n} notification${n === 1 ? '' : 's'}`,
    open: 'Open',
    unsubscribe: 'Stop these emails',
    someone: 'Someone',
  },
  fr: {
    subject: (n: number) =>
      n === 1 ? 'Nouvelle activité sur Ensemble' : `${n} nouvelles notifications sur Ensemble`,
    digest: (n: number) => `Votre résumé Ensemble : ${n} notification${n === 1 ? '' : 's'}`,
    open: 'Ouvrir',
    unsubscribe: 'Ne plus recevoir ces courriels',
    someone: 'Quelqu’un',
  },
};

/** Periods a digest covers; one digest per person and period at most. */
export function digestPeriod(email: 'daily' | 'weekly', now: Date): string {
  const day = now.toISOString().slice(0, 10);
  if (email === 'daily') return `d:${day}`;
  const monday = new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)),
  );
  return `w:${monday.toISOString().slice(0, 10)}`;
}

/**
 * Notification mail: immediately (a job per notified person) or in a daily or weekly digest, in the
 * person's language, with a one-click unsubscribe link (RFC 8058 headers too). Empty digests are not sent.
 */
export class NotificationMail {
  constructor(
    private readonly repo: NotificationRepository,
    private readonly people: PersonRepository,
    private readonly groups: GroupRepository,
    private readonly threads: ThreadRepository,
    private readonly mailer: Mailer,
    private readonly jobs: JobQueue,
    private readonly publicUrl: string,
    private readonly secret: string,
    private readonly logger: Logger,
  ) {
    jobs.register(
      'mail.notifications',
      async (p) => {
        await this.sendPending(new ObjectId(String(p.userId)), 'immediate');
      },
      {
        concurrency: 2,
      },
    );
  }

  /** The unsubscribe token of a person: an HMAC of their id with the session secret. */
  token(userId: ObjectId): string {
    return createHmac('sha256', this.secret)
      .update(`unsubscribe:${userId.toHexString()}`)
      .digest('base64url');
  }

  verify(userHex: string, token: string): ObjectId | null {
    if (!ObjectId.isValid(userHex)) return null;
    const expected = Buffer.from(this.token(new ObjectId(userHex)));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? new ObjectId(userHex)
      : null;
  }

  unsubscribeUrl(userId: ObjectId): string {
    return `${this.publicUrl}/mail/unsubscribe?u=${userId.toHexString()}&t=${this.token(userId)}`;
  }

  /** After notifications are written: a mail job for each person who wants mail at once. */
  async afterDelivery(userIds: string[]): Promise<void> {
    for (const userId of userIds) {
      const state = await this.repo.state.findOne({ _id: new ObjectId(userId) });
      if (state?.email === 'immediate') await this.jobs.enqueue('mail.notifications', { userId });
    }
  }

  /** Digests due at `now` for everyone who chose them; returns how many were sent. */
  async sweepDigests(now = new Date()): Promise<number> {
    let sent = 0;
    for (const state of await this.repo.state.find({ email: { $in: ['daily', 'weekly'] } }).toArray()) {
      const period = digestPeriod(state.email as 'daily' | 'weekly', now);
      // This period's digest is done if it was claimed already.
      if (
        !(await insertOnce(this.repo.digestClaims, { _id: `${state._id.toHexString()}:${period}`, at: now }))
      )
        continue;
      if (await this.sendPending(state._id, 'digest')) sent++;
    }
    return sent;
  }

  /** Mail the unread notifications not mailed yet; nothing (and no mail) when there are none. */
  private async sendPending(userId: ObjectId, mode: 'immediate' | 'digest'): Promise<boolean> {
    const user = await this.people.users.findOne({ _id: userId });
    const state = await this.repo.stateOf(userId);
    if (!user?.email || user.status !== 'active' || state.email === 'none') return false;
    const head = await this.repo.notifications.head(userId.toHexString(), state.head ?? 0);
    const from = Math.max(state.mailedUpTo, state.readUpTo, head - 50) + 1;
    const positions = Array.from({ length: Math.max(0, head - from + 1) }, (_, i) => from + i);
    const pending = (await this.repo.notifications.getMany(userId.toHexString(), positions)).filter(
      (d): d is NotificationDoc => d !== null && d.readAt === null,
    );
    await this.repo.state.updateOne({ _id: userId }, { $max: { mailedUpTo: head } });
    if (!pending.length) return false;
    const locale: Locale = user.locale === 'fr' ? 'fr' : 'en';
    const lines = await Promise.all(pending.map((d) => this.line(d, locale)));
    const w = words[locale];
    const unsubscribe = this.unsubscribeUrl(userId);
    const subject = mode === 'digest' ? w.digest(pending.length) : w.subject(pending.length);
    const text = `${lines.map((l) => `- ${l.text}\n  ${l.url}`).join('\n')}\n\n${w.unsubscribe}: ${unsubscribe}\n`;
    const html =
      `<ul>${lines.map((l) => `<li>${escapeHtml(l.text)} — <a href="${escapeHtml(l.url)}">${w.open}</a></li>`).join('')}</ul>` +
      `<p><a href="${escapeHtml(unsubscribe)}">${w.unsubscribe}</a></p>`;
    const ok = await this.mailer.send({
      to: user.email,
      subject,
      text,
      html,
      headers: {
        'List-Unsubscribe': `<${unsubscribe}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
    this.logger.debug({ user: user.handle, count: pending.length, mode, ok }, 'notification mail');
    return ok;
  }

  private async line(d: NotificationDoc, locale: Locale) {
    const [actor, group] = await Promise.all([
      d.actorId ? this.people.users.findOne({ _id: d.actorId }) : null,
      this.groups.groups.findOne({ _id: d.groupId }),
    ]);
    const who = actor
      ? (actor.profile.displayName ?? actor.claimsName ?? actor.handle)
      : words[locale].someone;
    const where = group?.name ?? '';
    const url = d.threadId
      ? `${this.publicUrl}/threads/${d.threadId.toHexString()}`
      : `${this.publicUrl}/groups/${group?.handle ?? ''}`;
    return { text: sentence[d.kind][locale](who, where), url };
  }
}
