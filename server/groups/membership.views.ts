import { ObjectId } from 'mongodb';
import type { Caller } from '../core/caller.js';
import { NotFoundError } from '../core/errors.js';
import type { OrganizationRepository } from '../organizations/organization.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import { allowed, type MembershipState, type Role } from './group.policy.js';
import type { GroupRepository } from './group.repository.js';
import type { GroupService } from './group.service.js';
import { msg } from '../core/messages.js';

export interface MemberView {
  /** The person's id, as member events name them (`userId`). */
  id: string;
  handle: string;
  displayName: string;
  role: Role;
  state: MembershipState;
  since: string;
  /** The node of a person of another node (null for people of this node). */
  node: string | null;
  /** Their organization's name, as their node gives it. */
  organization: string | null;
}

/** Finds a person of another node by `name@host`, asking their node (federation, when it is on). */
export type RemotePersonLookup = (handle: string) => Promise<UserDoc | null>;

export interface MembershipViewDeps {
  repo: GroupRepository;
  groups: GroupService;
  people: PersonRepository;
  organizations?: Pick<OrganizationRepository, 'byIds'> | undefined;
}

/**
 * What people read of memberships: a group's members, join requests, invitations and bans; its audit log
 * naming who acted; a person's groups; a person named by handle. Writes are MembershipService's.
 */
export class MembershipViews {
  private remotePeople: RemotePersonLookup | undefined;

  constructor(private readonly deps: MembershipViewDeps) {}

  /** Let `name@host` name a person of another node (wired by federation). */
  useRemotePeople(lookup: RemotePersonLookup): void {
    this.remotePeople = lookup;
  }

  /** The active (or remote) person a handle names; 404 otherwise. */
  async person(handle: string): Promise<UserDoc> {
    let user = await this.deps.people.byHandle(handle);
    if (!user && handle.includes('@') && this.remotePeople) user = await this.remotePeople(handle);
    if (!user || (user.status !== 'active' && user.status !== 'remote'))
      throw new NotFoundError(msg`No person ${handle}.`);
    return user;
  }

  async members(
    caller: Caller,
    handle: string,
    query: { state: MembershipState; cursor?: string | undefined; limit: number },
  ) {
    const ctx = await this.deps.groups.load(
      caller,
      handle,
      query.state === 'active' ? 'read' : query.state === 'requested' ? 'moderate' : 'manageMembers',
    );
    const after = query.cursor && /^[0-9a-f]{24}:[0-9a-f]{24}$/.test(query.cursor) ? query.cursor : undefined;
    const rows = await this.deps.repo.membershipPage(ctx.group._id, query.state, after, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const users = new Map(
      (await this.deps.people.byIds(page.map((m) => m.userId))).map((u) => [u._id.toHexString(), u]),
    );
    const orgNames = await this.organizationNames([...users.values()]);
    const items: MemberView[] = page.flatMap((m) => {
      const u = users.get(m.userId.toHexString());
      if (!u) return [];
      return [
        {
          id: u._id.toHexString(),
          handle: u.handle,
          displayName: u.profile.displayName ?? u.claimsName ?? u.handle,
          role: m.role,
          state: m.state,
          since: m.createdAt.toISOString(),
          node: u.origin?.host ?? null,
          organization: u.origin
            ? u.origin.organization
            : (orgNames.get(u.organizationId?.toHexString() ?? '') ?? null),
        },
      ];
    });
    return { items, nextCursor: rows.length > query.limit ? page[page.length - 1]!._id : null };
  }

  /** The names of the organizations of these people (one read). */
  private async organizationNames(people: UserDoc[]): Promise<Map<string, string>> {
    const ids = [
      ...new Set(people.flatMap((p) => (p.organizationId ? [p.organizationId.toHexString()] : []))),
    ];
    if (!ids.length || !this.deps.organizations) return new Map();
    const found = await this.deps.organizations.byIds(ids.map((id) => new ObjectId(id)));
    return new Map(found.map((o) => [o._id.toHexString(), o.name.en]));
  }

  /**
   * The group's audit log (admins), each entry naming who acted and whom it was about (a person since
   * deactivated or merged is still named: the log is a record).
   */
  async auditLog(caller: Caller, handle: string, limit: number) {
    const entries = await this.deps.groups.views.auditLog(caller, handle, limit);
    const ids = [
      ...new Set(entries.flatMap((e) => [e.actorId, e.targetUserId]).filter((id): id is string => !!id)),
    ];
    const people = new Map(
      (await this.deps.people.byIds(ids.map((id) => new ObjectId(id)))).map((u) => [
        u._id.toHexString(),
        { handle: u.handle, displayName: u.profile.displayName ?? u.claimsName ?? u.handle },
      ]),
    );
    return entries.map((e) => ({
      ...e,
      actor: (e.actorId && people.get(e.actorId)) || null,
      target: (e.targetUserId && people.get(e.targetUserId)) || null,
    }));
  }

  /** A person's groups, limited to those the viewer may see (a hidden group is never revealed). */
  async of(caller: Caller, personHandle: string) {
    const person = await this.person(personHandle);
    const rows = await this.deps.repo.membershipsOf(person._id, { state: 'active' });
    const groups = await this.deps.repo.liveByIds(rows.map((r) => r.groupId));
    const roleOf = new Map(rows.map((r) => [r.groupId.toHexString(), r.role]));
    const visible = [];
    for (const group of groups) {
      const ctx = await this.deps.groups.standing(caller, group);
      const facts = { visibility: group.visibility, joinPolicy: group.joinPolicy, deleted: false };
      if (allowed(ctx.standing, facts, 'see'))
        visible.push({
          group: group.handle,
          name: group.name,
          names: { ...group.names },
          role: roleOf.get(group._id.toHexString())!,
        });
    }
    return visible;
  }
}
