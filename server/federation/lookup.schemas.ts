import { z } from 'zod';
import { groupView } from '../groups/group.schemas.js';

export const lookupQuery = z.object({
  q: z.string().trim().min(3).max(2000).describe('@group@host, a group’s URL, or a thread’s URL'),
});

export const profilePerson = z.object({
  handle: z.string(),
  displayName: z.string(),
  url: z.string().nullable().describe('Their page on their node (people of other nodes)'),
});
export type ProfilePerson = z.infer<typeof profilePerson>;

export const profileThread = z.object({
  id: z.string().nullable().describe('The thread’s id here, once recorded on this node (else null)'),
  iri: z.string().describe('Its ActivityPub id (empty for a thread listed from this node’s records)'),
  title: z.string(),
  url: z.string().nullable(),
  createdAt: z.string().nullable(),
});
export type ProfileThread = z.infer<typeof profileThread>;

export const lookupResult = z
  .object({
    group: groupView.extend({
      moderators: z.array(profilePerson),
      recentThreads: z.array(profileThread),
    }),
    thread: profileThread.nullable().describe('The thread the URL named, if it named one'),
  })
  .meta({ id: 'LookupResult' });
export type LookupResult = z.infer<typeof lookupResult>;
