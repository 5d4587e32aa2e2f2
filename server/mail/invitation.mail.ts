import { ObjectId } from 'mongodb';
import type { EventBus } from '../core/events.js';
import { escapeHtml } from '../core/html.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { Mailer, OutgoingMail } from './mailer.js';

/**
 * The invitation to a group. Sent in the person's language when known, in both official languages
 * otherwise (an address that has not signed in yet).
 */
export function invitationMail(input: {
  to: string;
  locale: 'en' | 'fr' | undefined;
  groupName: string;
  groupHandle: string;
  inviter: string;
  publicUrl: string;
  /** The node's name in each language, and which language comes first in a bilingual mail. */
  node?: { name: { en: string; fr: string }; defaultLanguage: 'en' | 'fr' };
}): OutgoingMail {
  const link = `${input.publicUrl}/auth/login`;
  const node = input.node?.name ?? { en: 'Ensemble', fr: 'Ensemble' };
  const en = {
    subject: `${input.inviter} invites you to ${input.groupName} on ${node.en}`,
    text: `${input.inviter} invites you to join the group "${input.groupName}" (${input.groupHandle}) on ${node.en}.\nSign in to accept or decline: ${link}`,
  };
  const fr = {
    subject: `${input.inviter} vous invite à ${input.groupName} sur ${node.fr}`,
    text: `${input.inviter} vous invite à vous joindre au groupe « ${input.groupName} » (${input.groupHandle}) sur ${node.fr}.\nConnectez-vous pour accepter ou refuser : ${link}`,
  };
  const parts =
    input.locale === 'fr'
      ? [fr]
      : input.locale === 'en'
        ? [en]
        : input.node?.defaultLanguage === 'fr'
          ? [fr, en]
          : [en, fr];
  const subject = parts.map((p) => p.subject).join(' · ');
  const text = parts.map((p) => p.text).join('\n\n---\n\n');
  const html = parts
    .map(
      (p) =>
        `<p>${escapeHtml(p.text)
          .replace(/\n/g, '<br>')
          .replace(escapeHtml(link), `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`)}</p>`,
    )
    .join('<hr>');
  return { to: input.to, subject, text, html };
}

/** Mail every invitation: to the invited person's address, or to the invited email address. */
export function sendInvitationMails(deps: {
  events: EventBus;
  mailer: Mailer;
  groups: GroupRepository;
  people: PersonRepository;
  publicUrl: string;
  /** The node's name and default language as they are now (the node settings). */
  node?: () => { name: { en: string; fr: string }; defaultLanguage: 'en' | 'fr' };
}): void {
  deps.events.on('member.invited', async (e) => {
    const group = await deps.groups.byId(new ObjectId(e.groupId));
    const inviter = await deps.people.byId(new ObjectId(e.byUserId));
    const invitee = e.userId ? await deps.people.byId(new ObjectId(e.userId)) : null;
    const to = invitee?.email ?? e.email;
    if (!group || !to) return;
    await deps.mailer.send(
      invitationMail({
        to,
        locale: invitee?.locale,
        groupName: group.name,
        groupHandle: group.handle,
        inviter: inviter?.profile.displayName ?? inviter?.claimsName ?? inviter?.handle ?? 'Ensemble',
        publicUrl: deps.publicUrl,
        ...(deps.node ? { node: deps.node() } : {}),
      }),
    );
  });
}
