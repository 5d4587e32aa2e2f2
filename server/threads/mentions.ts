import type { ObjectId } from 'mongodb';
import { renderMarkdown } from '../core/html.js';
import type { Rendered } from '../groups/group.repository.js';
import type { PersonRepository } from '../people/person.repository.js';

/** `@handle` not preceded by a word character (so e-mail addresses are left alone). */
const MENTION = /(^|[^\w@/])@([a-z0-9][a-z0-9._-]{1,29})\b/gi;

/**
 * Render a post body: `@handle` of an active person becomes a link to their profile, and the markdown
 * becomes sanitised HTML. Returns the people mentioned (for notifications).
 */
export async function renderWithMentions(
  markdown: string,
  people: PersonRepository,
): Promise<{ body: Rendered; mentions: ObjectId[] }> {
  const handles = [...new Set([...markdown.matchAll(MENTION)].map((m) => m[2]!.toLowerCase()))].slice(0, 50);
  const found = await people.activeByHandles(handles);
  const known = new Map(found.map((u) => [u.handle, u._id]));
  const linked = markdown.replace(MENTION, (whole, lead: string, handle: string) =>
    known.has(handle.toLowerCase()) ? `${lead}[@${handle}](/people/${handle.toLowerCase()})` : whole,
  );
  return { body: { markdown, html: renderMarkdown(linked) }, mentions: [...known.values()] };
}
