/**
 * The one rule set for groups. REST, Socket.IO and the federation inbox all ask `allowed()`; nothing else
 * decides who may see, read, join, post or manage a group.
 *
 * Visibility: `public` (anyone, signed in or not), `node` (people signed in on this node), `members`
 * (only members: the group is hidden from everyone else, its existence included). Joining: `open`,
 * `request` (approved by moderators and up), `invite` (invitation only). A members-only group cannot be
 * seen by outsiders, so whatever its joining policy, outsiders can only enter it by invitation.
 */

export const groupVisibilities = ['public', 'node', 'members'] as const;
export type GroupVisibility = (typeof groupVisibilities)[number];
/** Who may read a group's content (posts, files): its visibility, or no one but moderators once it is hidden. */
export type Audience = GroupVisibility | 'hidden';
/** The audience of a group's content now: its visibility, or `hidden` while it is deleted. */
export const audienceOf = (group: { visibility: GroupVisibility; deletedAt?: Date | null }): Audience =>
  group.deletedAt ? 'hidden' : group.visibility;
export const joinPolicies = ['open', 'request', 'invite'] as const;
export type JoinPolicy = (typeof joinPolicies)[number];
export const roles = ['owner', 'admin', 'moderator', 'member'] as const;
export type Role = (typeof roles)[number];
export type MembershipState = 'active' | 'requested' | 'invited' | 'banned';

export const roleRank: Record<Role, number> = { member: 0, moderator: 1, admin: 2, owner: 3 };

/** Who is asking, as far as one group is concerned. */
export interface Standing {
  /** A person signed in on this node. */
  signedIn: boolean;
  /**
   * A person of another node, known through federation: they may join and request to join like anyone,
   * but never see what is shown only to people signed in here (`node` groups).
   */
  remote?: boolean;
  instanceAdmin: boolean;
  membership: { role: Role; state: MembershipState } | null;
}

export interface GroupFacts {
  visibility: GroupVisibility;
  joinPolicy: JoinPolicy;
  deleted: boolean;
}

export const groupActions = [
  'see', // know the group exists and read its profile
  'read', // threads, replies, member list
  'join', // become a member at once
  'request', // ask to join
  'respondToInvitation',
  'leave',
  'post', // start threads, reply, like
  'moderate', // remove posts, pin, lock, handle reports and join requests
  'manageMembers', // invite, remove, ban, unban
  'configure', // settings, welcome message, roles below admin
  'manageAdmins', // make or unmake admins, transfer ownership
  'viewAudit',
  'delete',
  'restore',
] as const;
export type GroupAction = (typeof groupActions)[number];

const activeRole = (s: Standing): Role | null =>
  s.membership?.state === 'active' ? s.membership.role : null;
const atLeast = (s: Standing, role: Role) => {
  const r = activeRole(s);
  return r !== null && roleRank[r] >= roleRank[role];
};

export function allowed(standing: Standing, group: GroupFacts, action: GroupAction): boolean {
  const state = standing.membership?.state;
  const banned = state === 'banned';
  const person = standing.signedIn || standing.remote === true;
  const member = state === 'active';

  if (group.deleted) {
    // A deleted group is gone for everyone but its owner and instance administrators, who may restore it.
    return action === 'restore' && (atLeast(standing, 'owner') || standing.instanceAdmin);
  }

  const sees =
    group.visibility === 'public' ||
    (group.visibility === 'node' && standing.signedIn) ||
    member ||
    state === 'invited' ||
    standing.instanceAdmin;

  switch (action) {
    case 'see':
      return sees;
    case 'read':
      return group.visibility === 'members' ? member : sees;
    case 'join':
      return person && sees && !state && group.joinPolicy === 'open';
    case 'request':
      return person && sees && !state && group.joinPolicy === 'request';
    case 'respondToInvitation':
      return state === 'invited';
    case 'leave':
      return member && activeRole(standing) !== 'owner';
    case 'post':
      return member && !banned;
    case 'moderate':
      return atLeast(standing, 'moderator');
    case 'manageMembers':
    case 'configure':
    case 'viewAudit':
      return atLeast(standing, 'admin');
    case 'manageAdmins':
      return atLeast(standing, 'owner');
    case 'delete':
      return atLeast(standing, 'owner') || standing.instanceAdmin;
    case 'restore':
      return false; // only a deleted group can be restored
  }
}
