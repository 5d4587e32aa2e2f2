import {
  allowed,
  groupActions,
  groupVisibilities,
  joinPolicies,
  type GroupAction,
  type GroupVisibility,
  type JoinPolicy,
  type Standing,
} from '../../server/groups/group.policy.js';

/**
 * The authorisation matrix: every standing × visibility × joining policy × action. Expectations are
 * written out as a table of their own (not derived from the implementation), so a cell that leaks or
 * wrongly refuses fails here.
 */
const standings = {
  anonymous: { signedIn: false, instanceAdmin: false, membership: null },
  outsider: { signedIn: true, instanceAdmin: false, membership: null },
  requested: { signedIn: true, instanceAdmin: false, membership: { role: 'member', state: 'requested' } },
  invited: { signedIn: true, instanceAdmin: false, membership: { role: 'member', state: 'invited' } },
  banned: { signedIn: true, instanceAdmin: false, membership: { role: 'member', state: 'banned' } },
  member: { signedIn: true, instanceAdmin: false, membership: { role: 'member', state: 'active' } },
  moderator: { signedIn: true, instanceAdmin: false, membership: { role: 'moderator', state: 'active' } },
  admin: { signedIn: true, instanceAdmin: false, membership: { role: 'admin', state: 'active' } },
  owner: { signedIn: true, instanceAdmin: false, membership: { role: 'owner', state: 'active' } },
  instanceAdmin: { signedIn: true, instanceAdmin: true, membership: null },
} satisfies Record<string, Standing>;
type Who = keyof typeof standings;

const joinAction = (j: JoinPolicy): GroupAction[] =>
  j === 'open' ? ['join'] : j === 'request' ? ['request'] : [];
const MEMBER: GroupAction[] = ['see', 'read', 'leave', 'post'];
const MODERATOR: GroupAction[] = [...MEMBER, 'moderate'];
const ADMIN: GroupAction[] = [...MODERATOR, 'manageMembers', 'configure', 'viewAudit'];
const OWNER: GroupAction[] = [
  'see',
  'read',
  'post',
  'moderate',
  'manageMembers',
  'configure',
  'viewAudit',
  'manageAdmins',
  'delete',
];

const expected: Record<Who, (v: GroupVisibility, j: JoinPolicy) => GroupAction[]> = {
  // Anyone reads public groups; nothing else.
  anonymous: (v) => (v === 'public' ? ['see', 'read'] : []),
  // Signed-in outsiders see and read public and node groups and may join or ask; members-only groups are hidden.
  outsider: (v, j) => (v === 'members' ? [] : ['see', 'read', ...joinAction(j)]),
  // A pending request gives nothing more than an outsider has, and cannot be repeated.
  requested: (v) => (v === 'members' ? [] : ['see', 'read']),
  // An invited person sees the group they are invited to, and answers the invitation; content waits.
  invited: (v) => (v === 'members' ? ['see', 'respondToInvitation'] : ['see', 'read', 'respondToInvitation']),
  // Banned people cannot join, ask or post; they read only what any signed-in outsider could.
  banned: (v) => (v === 'members' ? [] : ['see', 'read']),
  member: () => MEMBER,
  moderator: () => MODERATOR,
  admin: () => ADMIN,
  // The owner cannot leave (ownership must be transferred first).
  owner: () => OWNER,
  // Instance administrators see every group and may delete one, but read members-only content only as members.
  instanceAdmin: (v, j) =>
    v === 'members' ? ['see', ...joinAction(j), 'delete'] : ['see', 'read', ...joinAction(j), 'delete'],
};

const cells = (Object.keys(standings) as Who[]).flatMap((who) =>
  groupVisibilities.flatMap((visibility) =>
    joinPolicies.map((joinPolicy) => [who, visibility, joinPolicy] as const),
  ),
);

describe('group authorisation matrix', () => {
  it.each(cells)('%s in a %s group joined by %s', (who, visibility, joinPolicy) => {
    const actual = groupActions.filter((action) =>
      allowed(standings[who], { visibility, joinPolicy, deleted: false }, action),
    );
    expect(actual.sort()).toEqual([...new Set(expected[who](visibility, joinPolicy))].sort());
  });

  it.each(cells)(
    'a deleted group: %s in a %s group joined by %s can only restore, if owner or instance admin',
    (who, visibility, joinPolicy) => {
      const actual = groupActions.filter((action) =>
        allowed(standings[who], { visibility, joinPolicy, deleted: true }, action),
      );
      expect(actual).toEqual(who === 'owner' || who === 'instanceAdmin' ? ['restore'] : []);
    },
  );
});
