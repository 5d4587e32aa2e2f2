import { renderMarkdown } from '../../server/core/html.js';
import { foldText, postTokens, queryTokens, searchTokens } from '../../server/core/search-tokens.js';

describe('search tokens', () => {
  it('folds accents and ligatures the same way for English and French', () => {
    expect(foldText('Hélène Côté-Bœuf')).toBe('helene cote-boeuf');
    expect(foldText('ÉNERGIE')).toBe('energie');
  });

  it('indexes every prefix of every word so partial names match', () => {
    const tokens = searchTokens('Hélène Côté', 'Politique publique');
    for (const t of ['he', 'hel', 'helene', 'co', 'cote', 'politique', 'pub']) expect(tokens).toContain(t);
    expect(tokens).not.toContain('h');
  });

  it("keeps a post's title prefixes and its body's whole words", () => {
    const tokens = postTokens('Budget 2027', 'Les données ouvertes du ministère.');
    for (const t of ['bu', 'bud', 'budget', '2027', 'donnees', 'ouvertes', 'ministere'])
      expect(tokens).toContain(t);
    for (const t of ['do', 'don', 'ouv', 'minis']) expect(tokens).not.toContain(t);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('turns a query into folded words', () => {
    expect(queryTokens('  HÉLÈNE  côté ')).toEqual(['helene', 'cote']);
  });
});

describe('markdown', () => {
  it('renders markdown and strips script, event handlers and dangerous links', () => {
    const html = renderMarkdown(
      '**Bonjour** <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://canada.ca)',
    );
    expect(html).toContain('<strong>Bonjour</strong>');
    expect(html).not.toMatch(/script|onerror|javascript:|<img/i);
    expect(html).toContain('<a href="https://canada.ca" rel="nofollow noopener noreferrer">ok</a>');
  });
});
