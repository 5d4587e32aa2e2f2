import { ObjectId } from 'mongodb';
import { requireAdmin, type Caller } from '../core/caller.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { foldText } from '../core/search-tokens.js';
import type { OrganizationService } from '../organizations/organization.service.js';
import type { PersonRepository, UserDoc } from './person.repository.js';
import { defaultVisibility } from './profile.schemas.js';
import type { ProfileIndexer } from './profile.service.js';
import { isDuplicateKey } from '../db/errors.js';
import { msg } from '../core/messages.js';

/** What a sign-in brings: the verified identity and the claims from the ID token and userinfo. */
export interface SignInClaims {
  issuer: string;
  sub: string;
  claims: Record<string, unknown>;
}

export interface AdminPolicy {
  admins: { issuer: string; sub: string }[];
  adminClaim: { name: string; value: string } | undefined;
  organizationClaim: string;
  /** The language of a person whose identity provider sends no `locale` claim (the node settings). */
  defaultLocale?: () => 'en' | 'fr';
}

/** Ends every session of a person at once (deactivation, merge). */
export interface SessionTerminator {
  endSessionsOf(userId: string): Promise<number>;
}

/** Other domains move what a merged account owns (memberships, posts) by registering here. */
export type MergeHandler = (from: ObjectId, into: ObjectId) => Promise<void>;

export class AccountDeactivatedError extends ForbiddenError {
  override readonly slug = 'account-deactivated';
  override readonly title = 'This account is deactivated';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

function handleBase(claims: Record<string, unknown>): string {
  const raw =
    str(claims.preferred_username) ?? str(claims.email)?.split('@')[0] ?? str(claims.name) ?? 'user';
  const base = foldText(raw)
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, 30);
  return base.length >= 2 ? base : `user-${base}`.replace(/-$/, '');
}

function claimHasValue(claims: Record<string, unknown>, name: string, value: string): boolean {
  const v = claims[name];
  return Array.isArray(v) ? v.includes(value) : v === value;
}

export class AccountService {
  private readonly mergeHandlers: MergeHandler[] = [];

  constructor(
    private readonly repo: PersonRepository,
    private readonly organizations: OrganizationService,
    private readonly indexer: ProfileIndexer,
    private readonly sessions: SessionTerminator,
    private readonly policy: AdminPolicy,
    private readonly events: EventBus,
  ) {}

  identitiesOf(userId: ObjectId) {
    return this.repo.identitiesOf(userId);
  }

  onMerge(handler: MergeHandler): void {
    this.mergeHandlers.push(handler);
  }

  /** Create the person on first sign-in, refresh them from the claims on every sign-in. */
  async signIn(input: SignInClaims): Promise<UserDoc> {
    const { issuer, sub, claims } = input;
    const now = new Date();
    let identity = await this.repo.identity(issuer, sub);
    let created = false;
    if (!identity) {
      const user = await this.createUser(claims, now);
      try {
        await this.repo.insertIdentity({
          _id: new ObjectId(),
          issuer,
          sub,
          userId: user._id,
          createdAt: now,
          lastSignInAt: now,
        });
        created = true;
      } catch (err) {
        // Two first sign-ins raced: keep the identity that won, drop the user we made.
        if (!isDuplicateKey(err)) throw err;
        await this.repo.remove(user._id);
      }
      identity = (await this.repo.identity(issuer, sub))!;
    } else {
      await this.repo.identitySignedIn(identity._id, now);
    }

    let user = await this.repo.byId(identity.userId);
    // Follow a merge to the surviving account.
    for (let hops = 0; user?.status === 'merged' && user.mergedInto && hops < 5; hops++) {
      user = await this.repo.byId(user.mergedInto);
    }
    if (!user) throw new NotFoundError('The account for this identity no longer exists.');
    if (user.status === 'deactivated')
      throw new AccountDeactivatedError('This account was deactivated by an administrator.');

    const email = str(claims.email)?.toLowerCase() ?? null;
    // An address the provider has not verified binds nothing: not an organization, not an invitation.
    const verifiedEmail = claims.email_verified === true && email ? email : undefined;
    const org = await this.organizations.resolveForClaims(
      claims[this.policy.organizationClaim],
      verifiedEmail,
    );
    const isAdmin =
      this.policy.admins.some((a) => a.issuer === issuer && a.sub === sub) ||
      (this.policy.adminClaim !== undefined &&
        claimHasValue(claims, this.policy.adminClaim.name, this.policy.adminClaim.value));
    const claimed = str(claims.locale)?.toLowerCase();
    const locale = claimed
      ? claimed.startsWith('fr')
        ? 'fr'
        : 'en'
      : (this.policy.defaultLocale?.() ?? 'en');
    const updated = await this.repo.setAndRead(user._id, {
      email,
      emailVerified: claims.email_verified === true,
      claimsName: str(claims.name) ?? null,
      // A language the person chose in Ensemble wins over the provider's.
      ...(user.localeChosen ? {} : { locale }),
      isAdmin,
      ...(org ? { organizationId: org._id } : {}),
      lastSignInAt: now,
      updatedAt: now,
    });
    // The claims may rename the person: no event, so the kept record goes here (ADR 0034).
    this.repo.changed(updated!._id);
    await this.indexer.reindex(updated!._id);
    const fresh = (await this.repo.byId(updated!._id))!;
    if (created)
      this.events.emit('person.created', {
        personId: fresh._id.toHexString(),
        handle: fresh.handle,
        verifiedEmail: fresh.emailVerified && fresh.email ? fresh.email : undefined,
      });
    return fresh;
  }

  private async createUser(claims: Record<string, unknown>, now: Date): Promise<UserDoc> {
    const base = handleBase(claims);
    for (let attempt = 0; attempt < 50; attempt++) {
      const handle = attempt === 0 ? base : `${base}${attempt + 1}`;
      const doc: UserDoc = {
        _id: new ObjectId(),
        handle,
        status: 'active',
        email: null,
        emailVerified: false,
        locale: 'en',
        claimsName: null,
        organizationId: null,
        isAdmin: false,
        profile: {},
        visibility: { ...defaultVisibility },
        avatar: null,
        searchTokens: [],
        createdAt: now,
        updatedAt: now,
        lastSignInAt: null,
      };
      try {
        await this.repo.insert(doc);
        return doc;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new ConflictError('Could not find a free handle for this person.');
  }

  private async target(handle: string): Promise<UserDoc> {
    const user = await this.repo.byHandle(handle);
    if (!user || user.status === 'merged') throw new NotFoundError(msg`No person ${handle}.`);
    return user;
  }

  /** Deactivate: sessions end at once, sign-in is refused, content stays. */
  async deactivate(caller: Caller, handle: string): Promise<UserDoc> {
    requireAdmin(caller);
    const user = await this.target(handle);
    if (caller.kind === 'person' && caller.personId === user._id.toHexString()) {
      throw new ConflictError('Administrators cannot deactivate their own account.');
    }
    await this.repo.set(user._id, { status: 'deactivated', updatedAt: new Date() });
    await this.sessions.endSessionsOf(user._id.toHexString());
    this.events.emit('person.deactivated', { personId: user._id.toHexString(), handle: user.handle });
    return (await this.repo.byId(user._id))!;
  }

  async reactivate(caller: Caller, handle: string): Promise<UserDoc> {
    requireAdmin(caller);
    const user = await this.target(handle);
    await this.repo.set(user._id, { status: 'active', updatedAt: new Date() });
    this.events.emit('person.reactivated', { personId: user._id.toHexString(), handle: user.handle });
    return (await this.repo.byId(user._id))!;
  }

  /**
   * Merge two accounts of one person: identities, memberships and content move to `into`; `from`
   * stays as a pointer so old links and a sign-in with its identity lead to the survivor.
   */
  async merge(caller: Caller, fromHandle: string, intoHandle: string): Promise<UserDoc> {
    requireAdmin(caller);
    if (fromHandle.toLowerCase() === intoHandle.toLowerCase()) {
      throw new ValidationError('Choose two different accounts.', [
        { field: 'body.into', message: 'same as from' },
      ]);
    }
    const from = await this.target(fromHandle);
    const into = await this.target(intoHandle);
    await this.repo.moveIdentities(from._id, into._id);
    for (const handler of this.mergeHandlers) await handler(from._id, into._id);
    await this.repo.set(from._id, {
      status: 'merged',
      mergedInto: into._id,
      searchTokens: [],
      updatedAt: new Date(),
    });
    await this.sessions.endSessionsOf(from._id.toHexString());
    this.events.emit('person.merged', {
      fromPersonId: from._id.toHexString(),
      intoPersonId: into._id.toHexString(),
    });
    return (await this.repo.byId(into._id))!;
  }
}
