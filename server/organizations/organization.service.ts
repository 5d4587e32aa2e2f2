import { requireAdmin, type Caller } from '../core/caller.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { OrganizationDoc, OrganizationRepository } from './organization.repository.js';
import type { OrganizationInput, OrganizationView } from './organization.schemas.js';
import { isDuplicateKey } from '../db/errors.js';
import { msg } from '../core/messages.js';

export function toOrganizationView(o: OrganizationDoc): OrganizationView {
  return {
    id: o._id.toHexString(),
    slug: o.slug,
    name: o.name,
    acronym: o.acronym,
    emailDomains: o.emailDomains,
    claimValues: o.claimValues,
  };
}

export class OrganizationService {
  constructor(private readonly repo: OrganizationRepository) {}

  async list(): Promise<OrganizationView[]> {
    return (await this.repo.list()).map(toOrganizationView);
  }

  async get(slug: string): Promise<OrganizationDoc> {
    const org = await this.repo.bySlug(slug);
    if (!org) throw new NotFoundError(msg`No organization ${slug}.`);
    return org;
  }

  async create(caller: Caller, input: OrganizationInput): Promise<OrganizationView> {
    requireAdmin(caller);
    try {
      return toOrganizationView(await this.repo.insert(input));
    } catch (err) {
      if (isDuplicateKey(err)) {
        throw new ConflictError(msg`An organization with the slug ${input.slug} exists.`, [
          { field: 'body.slug', message: 'already used' },
        ]);
      }
      throw err;
    }
  }

  async update(caller: Caller, slug: string, patch: Partial<OrganizationInput>): Promise<OrganizationView> {
    requireAdmin(caller);
    let updated: OrganizationDoc | null;
    try {
      updated = await this.repo.update(slug, patch);
    } catch (err) {
      if (isDuplicateKey(err)) {
        throw new ConflictError(msg`An organization with the slug ${patch.slug ?? slug} exists.`, [
          { field: 'body.slug', message: 'already used' },
        ]);
      }
      throw err;
    }
    if (!updated) throw new NotFoundError(msg`No organization ${slug}.`);
    return toOrganizationView(updated);
  }

  /**
   * The organization a person belongs to: the organization claim when it names a known one, otherwise
   * the domain of a verified email address.
   */
  async resolveForClaims(claimValue: unknown, email: string | undefined): Promise<OrganizationDoc | null> {
    if (typeof claimValue === 'string' && claimValue.trim()) {
      const byClaim = await this.repo.byClaimValue(claimValue.trim());
      if (byClaim) return byClaim;
    }
    const domain = email?.split('@')[1]?.toLowerCase();
    return domain ? this.repo.byEmailDomain(domain) : null;
  }
}
