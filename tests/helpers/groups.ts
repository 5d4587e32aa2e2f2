import type { ApiClient } from './browser.js';

/**
 * A public group anyone may join, made through the REST API by `client` (its owner), with one thread of
 * theirs: the ids of both. Throws when either is refused.
 */
export async function openGroupWithThread(
  client: ApiClient,
  group: { handle: string; name: string },
  title: string,
): Promise<{ groupId: string; threadId: string }> {
  const made = await client.call('POST', '/groups', { ...group, visibility: 'public', joinPolicy: 'open' });
  if (made.status !== 201) throw new Error(`could not create group ${group.handle}: ${made.status}`);
  const thread = await client.call('POST', `/groups/${group.handle}/threads`, { title, body: 'x' });
  if (thread.status !== 201) throw new Error(`could not post in ${group.handle}: ${thread.status}`);
  return { groupId: made.body.id as string, threadId: thread.body.id as string };
}
