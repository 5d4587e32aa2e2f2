import { z } from 'zod';

/** Who may see a profile field: anyone, people signed in on this node, or only the person. */
export const visibility = z.enum(['public', 'node', 'private']);
export type Visibility = z.infer<typeof visibility>;

/** Fields a person can hide; display name and handle are always shown (they attribute content). */
export const hideableFields = [
  'jobTitle',
  'organization',
  'location',
  'about',
  'skills',
  'languages',
  'contact',
  'avatar',
] as const;
export type HideableField = (typeof hideableFields)[number];

export const defaultVisibility: Record<HideableField, Visibility> = {
  jobTitle: 'public',
  organization: 'public',
  location: 'node',
  about: 'node',
  skills: 'node',
  languages: 'node',
  contact: 'node',
  avatar: 'public',
};

/** Government of Canada second-language evaluation levels. */
const sleLevel = z.enum(['A', 'B', 'C', 'E', 'X']);

const httpsUrl = z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// address' }).max(500);

export const profilePatch = z
  .object({
    displayName: z.string().trim().min(1).max(100),
    jobTitle: z.object({ en: z.string().trim().max(150), fr: z.string().trim().max(150) }).partial(),
    organization: z.string().trim().max(63).nullable().describe('Organization slug, or null'),
    location: z.string().trim().max(150),
    about: z.string().max(10_000).describe('Markdown; rendered to sanitised HTML'),
    skills: z.array(z.string().trim().min(1).max(50)).max(30),
    languages: z
      .object({
        first: z.enum(['en', 'fr']),
        reading: sleLevel,
        writing: sleLevel,
        oral: sleLevel,
      })
      .partial(),
    contact: z
      .object({
        email: z.email({ message: 'expected an email address' }).max(254).nullable(),
        phone: z
          .string()
          .trim()
          .regex(/^[+0-9 ().-]{3,30}(?: ?(?:x|ext\.?) ?\d{1,6})?$/i, 'expected a phone number')
          .nullable(),
        website: httpsUrl.nullable(),
      })
      .partial()
      .describe('Each field: a value, null to clear it, absent to leave it'),
    visibility: z.object(Object.fromEntries(hideableFields.map((f) => [f, visibility]))).partial(),
  })
  .partial()
  .strict();
export type ProfilePatch = z.infer<typeof profilePatch>;

const organizationRef = z.object({
  slug: z.string(),
  name: z.object({ en: z.string(), fr: z.string() }),
  acronym: z.object({ en: z.string(), fr: z.string() }),
});

/** A profile as one viewer may see it: hidden fields are absent, not empty. */
export const profileView = z.object({
  id: z.string(),
  handle: z.string(),
  displayName: z.string(),
  status: z.enum(['active', 'deactivated']),
  jobTitle: z.object({ en: z.string().optional(), fr: z.string().optional() }).optional(),
  organization: organizationRef.nullable().optional(),
  location: z.string().optional(),
  about: z.object({ markdown: z.string().optional(), html: z.string() }).optional(),
  skills: z.array(z.string()).optional(),
  languages: z
    .object({
      first: z.enum(['en', 'fr']).optional(),
      reading: sleLevel.optional(),
      writing: sleLevel.optional(),
      oral: sleLevel.optional(),
    })
    .optional(),
  contact: z
    .object({ email: z.string().optional(), phone: z.string().optional(), website: z.string().optional() })
    .optional(),
  avatarUrl: z.string().nullable().optional(),
  /** Only in the person's own view. */
  visibility: z.record(z.string(), visibility).optional(),
});
export type ProfileView = z.infer<typeof profileView>;

export const meView = z.object({
  profile: profileView,
  email: z.string().nullable(),
  locale: z.enum(['en', 'fr']),
  isAdmin: z.boolean(),
  identities: z.array(z.object({ issuer: z.string(), sub: z.string() })),
});

export const localeInput = z.object({ locale: z.enum(['en', 'fr']) }).strict();

export const handleParams = z.object({ handle: z.string().min(1).max(64) });

export const directoryQuery = z.object({
  q: z.string().max(200).optional(),
  organization: z.string().max(63).optional(),
  skill: z.string().max(50).optional().describe('People who list this skill (accents and case ignored)'),
  language: z.enum(['en', 'fr']).optional().describe('People whose first official language this is'),
  status: z
    .enum(['active', 'deactivated'])
    .optional()
    .describe('Administrators: `deactivated` lists deactivated people (default: active people)'),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

export const directoryPage = z.object({ items: z.array(profileView), nextCursor: z.string().nullable() });
