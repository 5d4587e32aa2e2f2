import { ObjectId } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { renderMarkdown } from '../core/html.js';
import { foldText, queryTokens, searchTokens } from '../core/search-tokens.js';
import type { ImageStore } from '../files/image.store.js';
import type { OrganizationDoc, OrganizationRepository } from '../organizations/organization.repository.js';
import type { PersonRepository, StoredProfile, UserDoc } from './person.repository.js';
import type { HideableField, ProfilePatch, ProfileView, Visibility } from './profile.schemas.js';
import { msg } from '../core/messages.js';

/** What a viewer is to a profile: anyone, signed in on this node, or the person. */
type ViewerLevel = 'public' | 'node' | 'self';
const rank: Record<Visibility | ViewerLevel, number> = { public: 0, node: 1, self: 2, private: 2 };

function viewerLevel(caller: Caller, user: UserDoc): ViewerLevel {
  if (caller.kind === 'system') return 'self';
  if (caller.kind !== 'person') return 'public';
  return caller.personId === user._id.toHexString() ? 'self' : 'node';
}

/**
 * Directory filters are whole-value tokens beside the word prefixes: `skill:<folded skill>` and
 * `lang:<first official language>`. A query's words never contain `:`, so they cannot match one.
 */
export const skillFacet = (skill: string) => `skill:${foldText(skill).trim().replace(/\s+/g, ' ')}`;
export const languageFacet = (lang: 'en' | 'fr') => `lang:${lang}`;

export interface ProfileIndexer {
  reindex(userId: ObjectId): Promise<void>;
}

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024;

export class ProfileService implements ProfileIndexer {
  constructor(
    private readonly images: ImageStore,
    private readonly repo: PersonRepository,
    private readonly organizations: OrganizationRepository,
    private readonly events: EventBus,
  ) {}

  /** Shape a person for one viewer: a field the viewer may not see is left out entirely. */
  view(caller: Caller, user: UserDoc, org: OrganizationDoc | null): ProfileView {
    const level = viewerLevel(caller, user);
    const shows = (field: HideableField) => rank[level] >= rank[user.visibility[field]];
    const p = user.profile;
    const view: ProfileView = {
      id: user._id.toHexString(),
      handle: user.handle,
      displayName: p.displayName ?? user.claimsName ?? user.handle,
      status: user.status === 'deactivated' ? 'deactivated' : 'active',
    };
    if (shows('jobTitle')) view.jobTitle = p.jobTitle ?? {};
    if (shows('organization'))
      view.organization = org ? { slug: org.slug, name: org.name, acronym: org.acronym } : null;
    if (shows('location') && p.location) view.location = p.location;
    // Others get only the sanitised HTML; the markdown source is the author's, for editing.
    if (shows('about') && p.about) view.about = level === 'self' ? p.about : { html: p.about.html };
    if (shows('skills')) view.skills = p.skills ?? [];
    if (shows('languages')) view.languages = p.languages as ProfileView['languages'];
    if (shows('contact')) view.contact = p.contact ?? {};
    if (shows('avatar')) view.avatarUrl = user.avatar ? `/api/v1/people/${user.handle}/avatar` : null;
    if (level === 'self') view.visibility = user.visibility;
    return view;
  }

  private async orgOf(user: UserDoc): Promise<OrganizationDoc | null> {
    return user.organizationId ? this.organizations.byId(user.organizationId) : null;
  }

  /** A person's profile as the caller may see it; deactivated and merged people are only visible to admins. */
  async get(caller: Caller, handle: string): Promise<{ user: UserDoc; view: ProfileView }> {
    const user = await this.repo.byHandle(handle);
    const isAdmin = caller.kind === 'person' && caller.isAdmin;
    if (!user || user.status === 'merged' || (user.status === 'deactivated' && !isAdmin)) {
      throw new NotFoundError(msg`No person ${handle}.`);
    }
    return { user, view: this.view(caller, user, await this.orgOf(user)) };
  }

  async me(caller: Caller): Promise<UserDoc> {
    const me = requirePerson(caller);
    const user = await this.repo.byId(new ObjectId(me.personId));
    if (!user) throw new NotFoundError('Your account no longer exists.');
    return user;
  }

  async selfView(user: UserDoc): Promise<ProfileView> {
    return this.view({ kind: 'system', reason: 'self' }, user, await this.orgOf(user));
  }

  async update(caller: Caller, patch: ProfilePatch): Promise<UserDoc> {
    const me = await this.me(caller);
    const organizationId =
      patch.organization === undefined || patch.organization === null
        ? patch.organization
        : await this.organizationIdOf(patch.organization);
    // The patch is merged into the profile as it is under the lock, so two edits at once both stay.
    const written = await this.repo.rewrite(me._id, (user) => ({
      set: this.patched(user, patch, organizationId),
      result: true,
    }));
    if (!written) throw new NotFoundError('Your account no longer exists.');
    await this.reindex(me._id);
    this.events.emit('person.updated', { personId: me._id.toHexString(), handle: me.handle });
    return (await this.repo.byId(me._id))!;
  }

  private async organizationIdOf(slug: string): Promise<ObjectId> {
    const org = await this.organizations.bySlug(slug);
    if (!org) {
      throw new ValidationError(msg`No organization ${slug}.`, [
        { field: 'body.organization', message: 'unknown organization' },
      ]);
    }
    return org._id;
  }

  private patched(user: UserDoc, patch: ProfilePatch, organizationId: ObjectId | null | undefined) {
    const set: Record<string, unknown> = { updatedAt: new Date() };
    const profile: StoredProfile = { ...user.profile };
    if (patch.displayName !== undefined) profile.displayName = patch.displayName;
    if (patch.jobTitle !== undefined) profile.jobTitle = { ...profile.jobTitle, ...patch.jobTitle };
    if (patch.location !== undefined) profile.location = patch.location;
    if (patch.about !== undefined)
      profile.about = { markdown: patch.about, html: renderMarkdown(patch.about) };
    if (patch.skills !== undefined) profile.skills = [...new Set(patch.skills)];
    if (patch.languages !== undefined) profile.languages = { ...profile.languages, ...patch.languages };
    if (patch.contact !== undefined) {
      // null clears a field; absent leaves it.
      const contact: Record<string, string> = { ...profile.contact };
      for (const [field, value] of Object.entries(patch.contact)) {
        if (value === null) delete contact[field];
        else if (value !== undefined) contact[field] = value;
      }
      profile.contact = contact;
    }
    set.profile = profile;
    if (patch.visibility) set.visibility = { ...user.visibility, ...patch.visibility };
    if (organizationId !== undefined) set.organizationId = organizationId;
    return set;
  }

  /**
   * Rebuild the search tokens from what signed-in people may see: a field the person keeps private is
   * never searchable, so a search cannot reveal it.
   */
  async reindex(userId: ObjectId): Promise<void> {
    const user = await this.repo.byId(userId);
    if (!user) return;
    const visible = (f: HideableField) => user.visibility[f] !== 'private';
    const p = user.profile;
    const org = visible('organization') ? await this.orgOf(user) : null;
    const tokens = searchTokens(
      user.handle,
      p.displayName ?? user.claimsName,
      visible('jobTitle') ? p.jobTitle?.en : undefined,
      visible('jobTitle') ? p.jobTitle?.fr : undefined,
      visible('skills') ? (p.skills ?? []).join(' ') : undefined,
      visible('location') ? p.location : undefined,
      org ? [org.slug, org.name.en, org.name.fr, org.acronym.en, org.acronym.fr].join(' ') : undefined,
    );
    if (visible('skills')) for (const skill of p.skills ?? []) tokens.push(skillFacet(skill));
    if (visible('languages') && p.languages?.first) tokens.push(languageFacet(p.languages.first));
    await this.repo.set(user._id, { searchTokens: tokens });
  }

  /** Every person's search tokens built again (schema 6: the directory's skill and language filters). */
  async reindexAll(): Promise<void> {
    for (const id of await this.repo.allIds()) await this.reindex(id);
  }

  /** The interface language the person chose; sign-in keeps it from then on. */
  async chooseLocale(caller: Caller, locale: 'en' | 'fr'): Promise<UserDoc> {
    const me = await this.me(caller);
    await this.repo.set(me._id, { locale, localeChosen: true, updatedAt: new Date() });
    return (await this.repo.byId(me._id))!;
  }

  async directory(
    caller: Caller,
    query: {
      q?: string | undefined;
      organization?: string | undefined;
      skill?: string | undefined;
      language?: 'en' | 'fr' | undefined;
      status?: 'active' | 'deactivated' | undefined;
      cursor?: string | undefined;
      limit: number;
    },
  ): Promise<{ items: ProfileView[]; nextCursor: string | null }> {
    const me = requirePerson(caller);
    if (query.status === 'deactivated' && !me.isAdmin)
      throw new ForbiddenError('Only administrators list deactivated people.');
    let organizationId: ObjectId | undefined;
    if (query.organization) {
      const org = await this.organizations.bySlug(query.organization);
      if (!org) return { items: [], nextCursor: null };
      organizationId = org._id;
    }
    const tokens = query.q ? queryTokens(query.q) : [];
    if (query.skill?.trim()) tokens.push(skillFacet(query.skill));
    if (query.language) tokens.push(languageFacet(query.language));
    const rows = await this.repo.search({
      tokens,
      ...(query.status ? { status: query.status } : {}),
      ...(organizationId ? { organizationId } : {}),
      ...(query.cursor ? { after: query.cursor } : {}),
      limit: query.limit,
    });
    const page = rows.slice(0, query.limit);
    const orgIds = [...new Set(page.map((u) => u.organizationId?.toHexString()).filter(Boolean))] as string[];
    const orgs = new Map(
      (await this.organizations.byIds(orgIds.map((id) => new ObjectId(id)))).map((o) => [
        o._id.toHexString(),
        o,
      ]),
    );
    return {
      items: page.map((u) => this.view(caller, u, orgs.get(u.organizationId?.toHexString() ?? '') ?? null)),
      nextCursor: rows.length > query.limit ? page[page.length - 1]!.handle : null,
    };
  }

  async setAvatar(caller: Caller, bytes: Buffer, contentType: string): Promise<UserDoc> {
    const user = await this.me(caller);
    const avatar = await this.images.save(bytes, contentType, `${user.handle}-avatar`);
    await this.replaceAvatar(user, avatar);
    return (await this.repo.byId(user._id))!;
  }

  async removeAvatar(caller: Caller): Promise<void> {
    const user = await this.me(caller);
    if (user.avatar) await this.replaceAvatar(user, null);
  }

  /** Set the avatar and remove the one it replaces, as it is under the lock (none is left behind). */
  private async replaceAvatar(user: UserDoc, avatar: UserDoc['avatar']): Promise<void> {
    const previous = await this.repo.rewrite(user._id, (current) => ({
      set: { avatar, updatedAt: new Date() },
      result: current.avatar,
    }));
    await this.images.remove(previous);
  }

  /** The avatar, if the caller may see this person's avatar. */
  async avatar(caller: Caller, handle: string) {
    const { user, view } = await this.get(caller, handle);
    if (!view.avatarUrl || !user.avatar) throw new NotFoundError('No avatar.');
    return this.images.download(user.avatar);
  }
}
