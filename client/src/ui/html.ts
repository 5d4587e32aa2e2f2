// What pages show of content: text is always inserted as text by lit's templates; the only HTML inserted
// is a post body, a profile's about text or a group's description, which the server sanitised when it was
// written (server/core/html.ts).
import { html, nothing } from 'lit';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { ago, dateTime } from '../i18n/format';

export const sanitised = (fragment: string | undefined | null) => (fragment ? unsafeHTML(fragment) : nothing);

/** A <time> with the full date and time as its tooltip and "3 minutes ago" as its text. */
export const when = (iso: string) => html`<time datetime=${iso} title=${dateTime(iso)}>${ago(iso)}</time>`;

/** A person's initials, for an avatar without a picture. */
export const initials = (name: string) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('');

/** An avatar: the picture when there is one (decorative: the name is always next to it). */
export function avatar(name: string, url: string | null | undefined, size: 'small' | 'large' = 'small') {
  return url
    ? html`<img
        class=${`avatar ${size}`}
        src=${url}
        alt=""
        width=${size === 'large' ? 96 : 32}
        height=${size === 'large' ? 96 : 32}
      />`
    : html`<span class=${`avatar ${size} initials`} aria-hidden="true">${initials(name)}</span>`;
}
