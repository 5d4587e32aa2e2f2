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
