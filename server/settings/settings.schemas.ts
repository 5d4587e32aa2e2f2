import { z } from 'zod';
import { FEDERATION_DOMAIN } from '../federation/federation.policy.js';

/**
 * What a node's administrators change at run time (docs/operations.md, "Node settings"): how the node
 * presents itself, the language it defaults to, and which servers it federates with. The environment
 * variables give each value's default; a value set through the API overrides it until it is reset (null).
 */

const bilingual = (min: number, max: number) =>
  z.object({ en: z.string().trim().min(min).max(max), fr: z.string().trim().min(min).max(max) });

export const federationPolicyInput = z
  .object({
    mode: z.enum(['open', 'blocklist', 'allowlist']),
    domains: z
      .array(
        z
          .string()
          .trim()
          .toLowerCase()
          .regex(FEDERATION_DOMAIN, 'expected a domain such as dept.gc.ca, *.gc.ca or host:8443'),
      )
      .max(1000)
      .describe('The blocklist or allowlist (ignored in open mode)'),
  })
  .strict()
  .meta({ id: 'FederationPolicyInput' });
export type FederationPolicyInput = z.output<typeof federationPolicyInput>;

/** Each field: a value, null to go back to the environment's, absent to leave it. */
export const nodeSettingsPatch = z
  .object({
    name: bilingual(1, 100).nullable().describe('The node’s name, in both official languages'),
    description: bilingual(0, 1000).nullable(),
    contactEmail: z.email().max(200).nullable().describe('Whom to write to about this node'),
    defaultLanguage: z
      .enum(['en', 'fr'])
      .nullable()
      .describe('Language of people whose identity provider sends none, and the first of bilingual mail'),
    signInNotice: bilingual(0, 1000)
      .nullable()
      .describe('Shown on the sign-in page: who may sign in here, and how'),
  })
  .partial()
  .strict()
  .meta({ id: 'NodeSettingsPatch' });
export type NodeSettingsPatch = z.output<typeof nodeSettingsPatch>;

const bilingualView = z.object({ en: z.string(), fr: z.string() });

export const nodeInfoView = z
  .object({
    name: bilingualView,
    description: bilingualView,
    contactEmail: z.string().nullable(),
    defaultLanguage: z.enum(['en', 'fr']),
    signInNotice: bilingualView,
  })
  .meta({ id: 'NodeInfo' });

/** Every value the settings hold. */
export interface NodeSettingsValues {
  name: { en: string; fr: string };
  description: { en: string; fr: string };
  contactEmail: string | null;
  defaultLanguage: 'en' | 'fr';
  signInNotice: { en: string; fr: string };
  federation: { mode: 'open' | 'blocklist' | 'allowlist'; domains: string[] };
}

/** The values set through the API; the others come from the environment. */
export type NodeSettingsOverrides = Partial<NodeSettingsValues>;

const changedBy = z.object({ handle: z.string().nullable() }).nullable();

export const settingsAdminView = z
  .object({
    revision: z.number().int().describe('Changes so far (0: everything from the environment)'),
    updatedAt: z.string().nullable(),
    updatedBy: changedBy,
    values: nodeInfoView.extend({ federation: federationPolicyInput }),
    environment: nodeInfoView
      .extend({ federation: federationPolicyInput })
      .describe('The defaults the environment variables give'),
    overridden: z.array(z.string()).describe('The values set through the API'),
  })
  .meta({ id: 'NodeSettingsAdmin' });

export const federationPolicyView = z
  .object({
    mode: z.enum(['open', 'blocklist', 'allowlist']),
    domains: z.array(z.string()),
    source: z.enum(['environment', 'settings']),
    revision: z.number().int(),
  })
  .meta({ id: 'FederationPolicy' });

export const settingsHistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  before: z.coerce.number().int().min(1).optional().describe('Revisions older than this one'),
});

export const settingsHistoryPage = z
  .object({
    items: z.array(
      z.object({
        revision: z.number().int(),
        at: z.string(),
        by: changedBy,
        changes: z.array(
          z
            .object({ field: z.string(), from: z.unknown(), to: z.unknown() })
            .describe('A value that changed'),
        ),
      }),
    ),
    next: z.number().int().nullable().describe('Pass as `before` for older changes'),
  })
  .meta({ id: 'NodeSettingsHistory' });
