import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FR } from '../../server/core/messages.fr.js';
import { localized, msg } from '../../server/core/messages.js';
import { scanMessages } from '../helpers/messages-scan.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const placeholders = (text: string) => [...text.matchAll(/\{(\d+)\}/g)].map((m) => m[1]).sort();

/**
 * Every message a person can be told is in French too (docs/api/problems.md, "Language"): the scan finds each
 * message raised by the person-facing domains (tests/helpers/messages-scan.ts) and this file fails on one
 * without its French text, on a French text nothing raises any more, and on placeholders that differ.
 */
describe('the messages people read, in English and French', () => {
  const scan = scanMessages(root);
  const raised = new Map(scan.messages.map((m) => [m.key, m.where]));

  it('finds the messages (a scan that found nothing would prove nothing)', () => {
    expect(raised.size).toBeGreaterThan(150);
    expect(raised.get('This thread is locked.')).toMatch(/thread\.service\.ts/);
    expect(raised.get('No group {0}.')).toBeDefined();
  });

  it('reads every message raised: none built from a template literal without msg, or from ??', () => {
    expect(scan.unreadable).toEqual([]);
  });

  it('has the French text of every message raised', () => {
    const missing = [...raised]
      .filter(([key]) => FR[key] === undefined)
      .map(([key, where]) => `${where}: ${key}`);
    expect(missing).toEqual([]);
  });

  it('keeps no French text that nothing raises', () => {
    expect(Object.keys(FR).filter((key) => !raised.has(key))).toEqual([]);
  });

  it('gives each French text the placeholders of its English one', () => {
    const differ = Object.entries(FR).filter(
      ([en, fr]) => placeholders(en).join() !== placeholders(fr).join(),
    );
    expect(differ).toEqual([]);
  });

  it('puts the values in place in either language', () => {
    const m = msg`No group ${'lab@b.example'}.`;
    expect(localized(m, 'en')).toBe('No group lab@b.example.');
    expect(localized(m, 'fr')).toBe('Aucun groupe lab@b.example.');
    // Not translated: told in English rather than not at all.
    expect(localized(msg`Nothing like ${1} this.`, 'fr')).toBe('Nothing like 1 this.');
  });
});
