/**
 * Search without text indexes (FerretDB has none): each searchable document keeps a `searchTokens`
 * array with an ordinary index (served on FerretDB by the build's array side tables, ADR 0013). Text is
 * folded the same way for English and French — lower case, accents removed (é → e, œ → oe), split on
 * anything that is not a letter or digit. Words of names and titles contribute their prefixes, so "hél" finds
 * "Hélène" whatever the UI language; words of bodies contribute themselves (`wordTokens`): a post of three
 * paragraphs keeps about a hundred tokens instead of five hundred, and a query word finds it whole. Posts
 * written before this still carry their bodies' prefixes, which only ever find more.
 */

const MIN_PREFIX = 2;
const MAX_TOKEN = 24;

const LIGATURES: Record<string, string> = { œ: 'oe', æ: 'ae', ß: 'ss' };

/** Fold text to lower-case ASCII-like words: accents and ligatures removed. */
export function foldText(text: string): string {
  return text
    .toLowerCase()
    .replace(/[œæß]/g, (c) => LIGATURES[c] ?? c)
    .normalize('NFD')
    .replace(/\p{M}+/gu, '');
}

export function words(text: string): string[] {
  return foldText(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** All prefixes (2+ characters, up to 24) of every word in the given texts, deduplicated. */
export function searchTokens(...texts: (string | undefined | null)[]): string[] {
  const tokens = new Set<string>();
  for (const text of texts) {
    if (!text) continue;
    for (const word of words(text)) {
      const w = word.slice(0, MAX_TOKEN);
      if (w.length < MIN_PREFIX) {
        tokens.add(w);
        continue;
      }
      for (let i = MIN_PREFIX; i <= w.length; i++) tokens.add(w.slice(0, i));
    }
  }
  return [...tokens];
}

/** The distinct words (folded, cut to the indexed length) of the given texts. */
export function wordTokens(...texts: (string | undefined | null)[]): string[] {
  const tokens = new Set<string>();
  for (const text of texts) if (text) for (const word of words(text)) tokens.add(word.slice(0, MAX_TOKEN));
  return [...tokens];
}

/** A post's tokens: its title's prefixes and its body's words. */
export function postTokens(title: string | null, body: string): string[] {
  return [...new Set([...searchTokens(title), ...wordTokens(body)])];
}

/** The tokens a query must all match (each query word as typed, folded, cut to the indexed length). */
export function queryTokens(query: string): string[] {
  return [...new Set(words(query).map((w) => w.slice(0, MAX_TOKEN)))].slice(0, 8);
}
