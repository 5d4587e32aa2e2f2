import type { PersonCaller } from '../core/caller.js';
import type { Logger } from '../core/logger.js';
import { demoClaims, type DemoPerson } from '../auth/demo.cast.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { MembershipService } from '../groups/membership.service.js';
import type { AccountService } from '../people/account.service.js';
import type { ThreadService } from '../threads/thread.service.js';

/**
 * Development only: a living node at first start. The demo people are created through the same sign-in
 * path as their real sign-in at the development provider (so signing in later reaches the same account),
 * and a public open group `welcome` gets a couple of threads. Runs once: skipped when `welcome` exists.
 */
export async function seedDemo(deps: {
  devIssuer: string;
  /** The node's demo people (DEMO_DEPARTMENT): the first two start the group. */
  cast: DemoPerson[];
  accounts: AccountService;
  groupRepo: GroupRepository;
  groups: GroupService;
  memberships: MembershipService;
  threads: ThreadService;
  logger: Logger;
}): Promise<void> {
  if (await deps.groupRepo.byHandle('welcome')) return;
  const [first, second] = deps.cast;
  if (!first || !second) return;
  const actors: Record<string, PersonCaller> = {};
  for (const person of [first, second]) {
    const user = await deps.accounts.signIn({
      issuer: deps.devIssuer,
      sub: person.sub,
      claims: demoClaims(person),
    });
    actors[person.sub] = {
      kind: 'person',
      personId: user._id.toHexString(),
      handle: user.handle,
      isAdmin: user.isAdmin,
    };
  }
  const host = actors[first.sub]!;
  const guest = actors[second.sub]!;
  await deps.groups.create(host, {
    handle: 'welcome',
    name: 'Welcome to Ensemble · Bienvenue',
    names: { en: 'Welcome to Ensemble', fr: 'Bienvenue dans Ensemble' },
    description: {
      en: 'A place for everyone on this node to say hello and try things out.',
      fr: 'Un lieu où chacun peut se présenter et essayer Ensemble.',
    },
    visibility: 'public',
    joinPolicy: 'open',
    welcomeMessage: 'Welcome! Start with the pinned thread. · Bienvenue! Commencez par le fil épinglé.',
  });
  await deps.memberships.join(guest, 'welcome');
  const start = await deps.threads.create(host, 'welcome', {
    title: 'Start here · Commencez ici',
    body:
      'Hello! This group is open to everyone on the node. Introduce yourself below, and mention a colleague ' +
      `with @${guest.handle} to bring them into the conversation.\n\nBonjour! Présentez-vous ci-dessous.`,
  });
  await deps.threads.setFlag(host, start.id, 'pinned', true);
  await deps.threads.reply(guest, start.id, {
    body: `Bonjour @${host.handle}! ${second.name.split(' ')[0]} here. Happy to be part of this.`,
  });
  await deps.threads.create(guest, 'welcome', {
    title: 'Which open data sets do you use? · Quels jeux de données ouvertes utilisez-vous?',
    body: 'I work with geospatial data a lot. What about your teams?',
  });
  deps.logger.info('demo group "welcome" created with a couple of threads');
}
