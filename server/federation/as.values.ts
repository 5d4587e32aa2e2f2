/** Reading ActivityStreams values, raw or in apex's form (where every value is an array). */

export const isNode = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

/** The IRI a value names: the string itself, an object's `id`, or that of a one-element array's item. */
export const idOf = (value: unknown): string | null => {
  if (Array.isArray(value)) return value.length === 1 ? idOf(value[0]) : null;
  if (typeof value === 'string') return value;
  return isNode(value) && typeof value.id === 'string' ? value.id : null;
};

/** An IRI's origin, or null when it is not a URL. */
export const originOf = (iri: string): string | null => (URL.canParse(iri) ? new URL(iri).origin : null);

/** The `href` of a `url` value (a string, a Link, or a list of them; the HTML one first). */
export function urlOf(value: unknown): string | null {
  const list = Array.isArray(value) ? value : [value];
  const html = list.find((v) => isNode(v) && v.mediaType === 'text/html');
  const pick = html ?? list[0];
  if (typeof pick === 'string') return URL.canParse(pick) ? pick : null;
  if (isNode(pick) && typeof pick.href === 'string' && URL.canParse(pick.href)) return pick.href;
  return null;
}
