import type { ApexObject } from 'activitypub-express';
import { ForbiddenError, ValidationError } from '../core/errors.js';
import { idOf, isNode, originOf } from './as.values.js';

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/** Keys apex never reads as references (values, not things to resolve). */
const VALUE_KEYS = new Set([
  '@context',
  'id',
  'type',
  'content',
  'contentMap',
  'name',
  'nameMap',
  'summary',
  'summaryMap',
  'published',
  'updated',
  'mediaType',
  'source',
]);

/**
 * Cut what a document may not vouch for, in place, at every depth: embedded objects whose id is on another
 * origin than `origin` or is local become their bare IRI; keys starting with `_` (apex's private `_meta`,
 * which the ActivityStreams context lets through as a blank-node term) are removed. Top-level id, type and
 * `@context` are left alone.
 */
export function stripUntrusted(
  doc: Record<string, unknown>,
  origin: string | null,
  isLocal: (iri: string) => boolean,
): void {
  const trusted = (id: string) => originOf(id) === origin && !isLocal(id);
  const strip = (value: unknown, depth: number): unknown => {
    if (Array.isArray(value)) return value.map((v) => strip(v, depth));
    if (!isNode(value)) return value;
    if (typeof value.id === 'string' && !trusted(value.id)) return value.id;
    if (depth > 8) return typeof value.id === 'string' ? value.id : null;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key.startsWith('_')) continue;
      out[key] = VALUE_KEYS.has(key) ? inner : strip(inner, depth + 1);
    }
    return out;
  };
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith('_')) delete doc[key];
    else if (!VALUE_KEYS.has(key)) doc[key] = strip(value, 1);
  }
}

/**
 * Make an activity, in the JSON-LD form activitypub-express acts on, safe to hand to it. The guard
 * checked the raw body, but a `@context` can give terms another meaning; so the checks are made again on
 * this form, which is the one apex reads:
 *
 * - its id, type and actor are the ones the signature covered (else the context rewrote them: 400);
 * - every embedded object, at any depth, whose id is not on the actor's origin, or is local, is cut down
 *   to its IRI: apex then reads it from our store or fetches it from its own origin, never believing a copy
 *   (docs/federation.md, "What the node accepts"; a forged embedded actor would otherwise land in the object cache);
 * - Create and Update carry their object on the actor's origin; Create, Update and Delete never target a
 *   local object (403).
 */
export function sanitizeActivity(
  compacted: ApexObject,
  verified: { activityId: string; actorId: string; type: string },
  isLocal: (iri: string) => boolean,
): ApexObject {
  const actorOrigin = originOf(verified.actorId);
  const actor = first(compacted.actor);
  if (
    compacted.id !== verified.activityId ||
    compacted.type !== verified.type ||
    idOf(actor) !== verified.actorId
  )
    throw new ValidationError('The activity’s @context changes the meaning of its id, type or actor.');
  compacted.actor = [verified.actorId];

  stripUntrusted(compacted, actorOrigin, isLocal);

  const type = verified.type;
  if (type === 'Create' || type === 'Update' || type === 'Delete') {
    const object = first(compacted.object);
    const objectId = idOf(object);
    if (!objectId)
      throw new ValidationError(`A ${type} needs an object with an id.`, [
        { field: 'body.object', message: 'expected an object' },
      ]);
    if (isLocal(objectId))
      throw new ForbiddenError(`A remote actor cannot ${type.toLowerCase()} a local object.`);
    if (originOf(objectId) !== actorOrigin)
      throw new ForbiddenError('The object is not on the actor’s origin.');
    if (type !== 'Delete' && !isNode(object))
      throw new ValidationError(`A ${type} must carry its object.`, [
        { field: 'body.object', message: 'expected an embedded object' },
      ]);
    const attributed = isNode(object) ? idOf(first(object.attributedTo)) : null;
    if (attributed && originOf(attributed) !== actorOrigin)
      throw new ForbiddenError('The object is attributed to an actor of another origin.');
  }
  return compacted;
}
