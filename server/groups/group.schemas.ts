import { z } from 'zod';
import { groupVisibilities, joinPolicies, roles } from './group.policy.js';

export const groupHandle = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected 2-63 lower-case letters, digits or -');

/** A group as people name it: its handle here, or `handle@host` for a group hosted on another node. */
export const groupRef = z
  .string()
  .trim()
  .toLowerCase()
  .max(255)
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}(@[a-z0-9.-]+(:\d{1,5})?)?$/,
    'expected a group handle, or handle@host for a group on another node',
  );

const markdown = (max: number) => z.string().max(max).describe('Markdown; rendered to sanitised HTML');

export const groupInput = z
  .object({
    handle: groupHandle,
    name: z.string().trim().min(2).max(120),
    names: z
      .object({ en: z.string().trim().max(120), fr: z.string().trim().max(120) })
      .partial()
      .default({})
      .describe('The name in English and in French (an empty string removes one); `name` is shown otherwise'),
    description: z
      .object({ en: markdown(5000), fr: markdown(5000) })
      .partial()
      .default({}),
    visibility: z.enum(groupVisibilities),
    joinPolicy: z.enum(joinPolicies),
    welcomeMessage: markdown(2000).nullable().default(null),
  })
  .strict();
export type GroupInput = z.output<typeof groupInput>;

export const groupPatch = groupInput.omit({ handle: true }).partial().strict();
export type GroupPatch = z.output<typeof groupPatch>;

const rendered = z.object({ markdown: z.string().optional(), html: z.string() });

export const groupView = z.object({
  id: z.string(),
  handle: z.string(),
  name: z.string(),
  names: z.object({ en: z.string().optional(), fr: z.string().optional() }),
  description: z.object({ en: rendered.optional(), fr: rendered.optional() }),
  visibility: z.enum(groupVisibilities),
  joinPolicy: z.enum(joinPolicies),
  memberCount: z.number().int(),
  avatarUrl: z.string().nullable(),
  bannerUrl: z.string().nullable(),
  createdAt: z.string(),
  deletedAt: z.string().nullable(),
  /** What the viewer is in this group, and what they may do. */
  viewer: z.object({
    role: z.enum(roles).nullable(),
    state: z.enum(['active', 'requested', 'invited', 'banned']).nullable(),
    can: z.array(z.string()),
  }),
  /** Only for members. */
  welcomeMessage: rendered.nullable().optional(),
  /** The node hosting the group, when it is not this one: its host and the group's page there. */
  node: z.object({ host: z.string(), url: z.string() }).nullable(),
});
export type GroupView = z.infer<typeof groupView>;

/** A group's handle, or `handle@host` for a group hosted on another node. */
export const groupParams = z.object({ group: z.string().min(1).max(255) });
/** A person's handle, or `handle@host` for a person of another node. */
export const groupMemberParams = groupParams.extend({ person: z.string().min(1).max(255) });

export const groupListQuery = z.object({
  scope: z
    .enum(['all', 'mine', 'invited', 'deleted'])
    .default('all')
    .describe(
      'all: groups you may see; mine: yours; invited: those you are invited to; deleted: deleted groups you may restore',
    ),
  q: z.string().max(200).optional(),
  cursor: z.string().max(63).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

export const groupPage = z.object({ items: z.array(groupView), nextCursor: z.string().nullable() });
