import { createHmac, timingSafeEqual } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { escapeHtml } from '../core/html.js';
import type { Logger } from '../core/logger.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { JobQueue } from '../jobs/job.queue.js';
import type { Mailer } from '../mail/mailer.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import { actorOfUser, type NotificationAudience } from './notification.audience.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { Delivered } from './notification.fanout.js';
import type {
  MailClaimDoc,
  NotificationDoc,
  NotificationKind,
  NotificationRepository,
} from './notification.repository.js';

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

/** When a mail job finds another one mailing the same person, how long before it looks again. */
const RECHECK_MS = 30_000;
/** A mail claim this old was left by a sender that stopped. */
const STALE_MS = 10 * 60_000;

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
    private readonly audience: NotificationAudience,
    private readonly mailer: Mailer,
    private readonly jobs: JobQueue,
    private readonly publicUrl: string,
    private readonly secret: string,
    private readonly logger: Logger,
  ) {
    jobs.register(
      'mail.notifications',
      async (p) => {
        const userId = new ObjectId(String(p.userId));
        // Another job is mailing this person from the same position: look again shortly for what came since.
        if ((await this.sendPending(userId, 'immediate')) === 'busy')
          await this.jobs.enqueue(
            'mail.notifications',
            { userId: p.userId },
            new Date(Date.now() + RECHECK_MS),
          );
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
  /** Notifications just written: each of their people who asked for mail at once gets a mail job. */
  readonly delivered = (delivered: Delivered[]): Promise<void> =>
    this.afterDelivery([...new Set(delivered.map((d) => d.userId))]);

  async afterDelivery(userIds: string[]): Promise<void> {
    const states = await Promise.all(userIds.map((id) => this.repo.storedState(new ObjectId(id))));
    for (const state of states) {
      if (state?.email === 'immediate')
        await this.jobs.enqueue('mail.notifications', { userId: state._id.toHexString() });
    }
  }

  /**
   * Digests due at `now` for everyone who chose them; returns how many were sent. A digest that could not
   * be sent is given back to its period, so the next sweep tries again; one already sent is never sent again.
   */
  async sweepDigests(now = new Date()): Promise<number> {
    let sent = 0;
    // Read whole before any mail goes: iterated a batch at a time, the cursor would stay open on the database
    // across the sending between batches (minutes, for many people), a read FerretDB keeps open all along.
    const due = await this.repo.digestReaders();
    for (const state of due) {
      const period = digestPeriod(state.email as 'daily' | 'weekly', now);
      const progress = await this.repo.progressOf(state._id);
      if (progress.digested === period) continue;
      // Anything new since the last mail: the next position exists (one `_id` read; the sequence is dense).
      const next = Math.max(progress.mailedUpTo, state.readUpTo) + 1;
      if (!(await this.repo.notifications.get(state._id.toHexString(), next))) continue;
      const claim = `${state._id.toHexString()}:${period}`;
      // Several processes sweep: the one that inserts the period's claim sends it.
      if (!(await this.repo.takeMailClaim(claim, now))) continue;
      try {
        const outcome = await this.sendPending(state._id, 'digest', now);
        // Another sender holds this person's mail right now: give the period back for the next sweep.
        if (outcome === 'busy') await this.repo.releaseMailClaim(claim);
        else await this.repo.updateProgress(state._id, { $set: { digested: period } });
        if (outcome === 'sent') sent++;
      } catch (err) {
        await this.repo.releaseMailClaim(claim);
        this.logger.warn(
          { err, user: state._id.toHexString(), period },
          'digest not sent; retried next sweep',
        );
      }
    }
    return sent;
  }

  /**
   * Mail the unread notifications not mailed yet that the person may still read (the newest 50 at most).
   * `none`: nothing to mail. `busy`: another worker is mailing this person right now. Throws when the mail
   * could not be sent; nothing is marked mailed then, so trying again mails the same notifications.
   *
   * Mails follow one another along the person's positions: each takes the claim `<person>:from:<n>` at the
   * position after the last mail and records on it where it ended (`upTo`). Two senders that read the same
   * progress take the same claim, so one of them mails; one that read an older progress steps along the
   * finished claims to the first free position.
   */
  private async sendPending(
    userId: ObjectId,
    mode: 'immediate' | 'digest',
    now = new Date(),
  ): Promise<'sent' | 'none' | 'busy'> {
    const userHex = userId.toHexString();
    const [user, state, progress, head] = await Promise.all([
      this.people.byId(userId),
      this.repo.stateOf(userId),
      this.repo.progressOf(userId),
      this.repo.head(userHex),
    ]);
    if (state.email === 'none' || !this.mailer.enabled) return 'none';
    if (!user?.email || user.status !== 'active') {
      // No address to mail, or no longer active: nothing here is for mail, and the sweep passes them over.
      await this.repo.updateProgress(userId, { $max: { mailedUpTo: head } });
      return 'none';
    }
    let from = progress.mailedUpTo + 1;
    let claim: string;
    for (;;) {
      if (from > head) return 'none';
      claim = `${userHex}:from:${from}`;
      const taken = await this.claim(claim, now);
      if (taken === true) break;
      if (taken.upTo === undefined) return 'busy';
      from = taken.upTo + 1;
    }
    try {
      const first = Math.max(from, state.readUpTo + 1, head - 49);
      const positions = Array.from({ length: Math.max(0, head - first + 1) }, (_, i) => first + i);
      const unread = (await this.repo.notifications.getMany(userHex, positions)).filter(
        (d): d is NotificationDoc => d !== null && d.readAt === null,
      );
      const pending = await this.audience.visible(actorOfUser(user), unread);
      if (pending.length && !(await this.mail(user, pending, mode)))
        throw new Error('notification mail not sent');
      await this.repo.finishMailClaim(claim, head);
      await this.repo.updateProgress(userId, { $max: { mailedUpTo: head } });
      return pending.length ? 'sent' : 'none';
    } catch (err) {
      // Not mailed: the position is free again for the retry.
      await this.repo.releaseMailClaim(claim);
      throw err;
    }
  }

  /**
   * Take a mail claim: true, or the claim another sender holds (with `upTo` once its mail is done). One
   * older than STALE_MS and not done belongs to a sender that stopped before recording its mail (whether
   * it was sent cannot be known): it is taken over, so a crash means a mail sent twice, never lost.
   */
  private async claim(id: string, now: Date): Promise<true | MailClaimDoc> {
    if (await this.repo.takeMailClaim(id, now)) return true;
    const held = await this.repo.mailClaim(id);
    if (!held) return this.claim(id, now);
    if (held.upTo !== undefined || now.getTime() - held.at.getTime() < STALE_MS) return held;
    await this.repo.releaseMailClaim(id, held.at);
    return (await this.repo.takeMailClaim(id, now)) || held;
  }

  private async mail(user: UserDoc, pending: NotificationDoc[], mode: 'immediate' | 'digest') {
    const userId = user._id;
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
      to: user.email!,
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
      d.actorId ? this.people.byId(d.actorId) : null,
      this.groups.byId(d.groupId),
    ]);
    const who = actor
      ? (actor.profile.displayName ?? actor.claimsName ?? actor.handle)
      : words[locale].someone;
    const where = (group?.names?.[locale] || group?.name) ?? '';
    // The web client's addresses (server/web/: the same addresses a browser and ActivityPub peers use).
    const handle = encodeURIComponent(group?.handle ?? '');
    const url = d.threadId
      ? `${this.publicUrl}/groups/${handle}/threads/${d.threadId.toHexString()}`
      : `${this.publicUrl}/groups/${handle}`;
    return { text: sentence[d.kind][locale](who, where), url };
  }
}
