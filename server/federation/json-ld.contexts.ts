import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AS_CONTEXT, SECURITY_CONTEXT } from './actor.directory.js';

const require = createRequire(import.meta.url);
const vocab = (file: string) =>
  JSON.parse(readFileSync(require.resolve(`activitypub-express/vocab/${file}`), 'utf8')) as unknown;
/** Copied next to the compiled code by `npm run build`. */
const shipped = (file: string) =>
  JSON.parse(readFileSync(new URL(`./contexts/${file}`, import.meta.url), 'utf8')) as unknown;

/**
 * The JSON-LD contexts common servers name, by URL, shipped with the node (server/federation/contexts,
 * whose README records each one's source and licence): the document loader answers them without any
 * network access, so a node federates without reaching w3id.org (docs/federation.md, "JSON-LD contexts").
 */
export const SHIPPED_CONTEXT_FILES: Record<string, string> = {
  'https://w3id.org/identity/v1': 'identity-v1.json',
  'https://w3id.org/security/data-integrity/v1': 'security-data-integrity-v1.json',
  'https://w3id.org/security/data-integrity/v2': 'security-data-integrity-v2.json',
  'https://www.w3.org/ns/did/v1': 'did-v1.json',
  'https://www.w3.org/ns/cid/v1': 'cid-v1.json',
  'https://w3id.org/security/multikey/v1': 'security-multikey-v1.json',
  'https://join-lemmy.org/context.json': 'join-lemmy.json',
  'http://joinmastodon.org/ns': 'joinmastodon.json',
  'https://gotosocial.org/ns': 'gotosocial.json',
  'https://purl.archive.org/socialweb/webfinger': 'webfinger.json',
  'https://purl.archive.org/miscellany': 'miscellany.json',
  'https://litepub.social/litepub/context.jsonld': 'litepub.json',
  'http://litepub.social/litepub/context.jsonld': 'litepub.json',
};

export const SHIPPED_CONTEXTS: Record<string, unknown> = {
  [AS_CONTEXT]: vocab('as.json'),
  [SECURITY_CONTEXT]: vocab('security.json'),
  ...Object.fromEntries(Object.entries(SHIPPED_CONTEXT_FILES).map(([url, file]) => [url, shipped(file)])),
};
