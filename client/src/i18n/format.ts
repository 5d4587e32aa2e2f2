// The viewer's language and everything formatted by it: plural rules (Intl.PluralRules), numbers, sizes,
// dates and times (Intl). Catalogs (en.ts, fr.ts) use these, so a message is one function of its values.

export type Lang = 'en' | 'fr';
export const languages: Lang[] = ['en', 'fr'];

let current: Lang = 'en';

export const language = (): Lang => current;
export function setCurrentLanguage(lang: Lang): void {
  current = lang;
}
/** The BCP 47 locale the language is formatted in (Canadian English and French). */
export const locale = (lang: Lang = current): string => (lang === 'fr' ? 'fr-CA' : 'en-CA');

const pluralRules = new Map<string, Intl.PluralRules>();
/** The form of `forms` that `n` takes in the current language (CLDR plural categories). */
export function plural(n: number, forms: { one: string; other: string; zero?: string }): string {
  if (n === 0 && forms.zero !== undefined) return forms.zero;
  const loc = locale();
  let rules = pluralRules.get(loc);
  if (!rules) pluralRules.set(loc, (rules = new Intl.PluralRules(loc)));
  return rules.select(n) === 'one' ? forms.one : forms.other;
}

export const number = (n: number): string => new Intl.NumberFormat(locale()).format(n);

/** A size in bytes, in the largest unit that keeps it at 1 or more (1 kB = 1000 bytes, as the OS shows). */
export function bytes(n: number): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return new Intl.NumberFormat(locale(), {
    style: 'unit',
    unit: units[unit],
    unitDisplay: unit === 0 ? 'long' : 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

export const percent = (fraction: number): string =>
  new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(fraction);

export const dateTime = (iso: string): string =>
  new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));

export const date = (iso: string): string =>
  new Intl.DateTimeFormat(locale(), { dateStyle: 'long' }).format(new Date(iso));

/** "3 minutes ago", "il y a 3 minutes"; the full date after a week. */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  if (abs < 45) return rtf.format(0, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86_400) return rtf.format(Math.round(seconds / 86_400), 'day');
  return date(iso);
}

/** A list joined as the language joins lists ("a, b and c", "a, b et c"). */
export const list = (items: string[]): string =>
  new Intl.ListFormat(locale(), { style: 'long', type: 'conjunction' }).format(items);

/** A bilingual field in the viewer's language, else the other one. */
export function pick(field: { en?: string | undefined; fr?: string | undefined } | undefined | null): string {
  if (!field) return '';
  const other: Lang = current === 'en' ? 'fr' : 'en';
  return field[current] || field[other] || '';
}
