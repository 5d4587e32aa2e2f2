// The interface's language: the signed-in person's (remembered by the server, PUT /api/v1/me/locale), or
// a visitor's choice (remembered by this browser), or the browser's own. `t` is the current catalog; a
// switch redraws the page in place (router.ts), nothing is read again.
import { en, type Messages } from './en';
import { fr } from './fr';
import { languages, setCurrentLanguage, type Lang } from './format';

export { language, type Lang } from './format';

const catalogs: Record<Lang, Messages> = { en, fr };
const STORAGE_KEY = 'ensemble.language';

/** The current catalog (a live binding: it follows setLanguage). */
export let t: Messages = en;

export const isLang = (value: unknown): value is Lang => languages.includes(value as Lang);

/** The language a visitor chose earlier in this browser, else the browser's. */
export function visitorLanguage(): Lang {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage refused (private mode): the browser's language then
  }
  if (isLang(stored)) return stored;
  return (navigator.language ?? 'en').toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

export function rememberVisitorLanguage(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered; the switch still applies to this page
  }
}

export function setLanguage(lang: Lang): void {
  setCurrentLanguage(lang);
  t = catalogs[lang];
  document.documentElement.lang = lang;
}
