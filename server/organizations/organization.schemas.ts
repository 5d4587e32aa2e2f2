import { z } from 'zod';

const bilingual = (max: number) =>
  z.object({ en: z.string().trim().min(1).max(max), fr: z.string().trim().min(1).max(max) });

export const domainName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'expected a domain such as tbs-sct.gc.ca',
  );

export const organizationInput = z.object({
  slug: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected 2-63 lower-case letters, digits or -'),
  name: bilingual(200),
  acronym: bilingual(20),
  emailDomains: z.array(domainName).max(50).default([]),
  /** Values of the organization claim (OIDC_ORGANIZATION_CLAIM) that bind a person here. */
  claimValues: z.array(z.string().trim().min(1).max(200)).max(50).default([]),
});
export type OrganizationInput = z.output<typeof organizationInput>;

export const organizationPatch = organizationInput.partial();

export const organizationView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.object({ en: z.string(), fr: z.string() }),
  acronym: z.object({ en: z.string(), fr: z.string() }),
  emailDomains: z.array(z.string()),
  claimValues: z.array(z.string()),
});
export type OrganizationView = z.infer<typeof organizationView>;

export const slugParams = z.object({ slug: z.string().max(63) });
