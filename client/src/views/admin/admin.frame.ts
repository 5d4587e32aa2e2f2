// What every administration page shares: who may see it (the node's administrators; anyone else gets the
// not-found page, as the API answers), and its heading and section tabs.
import { html, nothing, type TemplateResult } from 'lit';
import { ApiError, type Me } from '../../api/api';
import { t } from '../../i18n/i18n';

export type Section = 'people' | 'organizations' | 'federation' | 'settings';
export const SECTIONS: Section[] = ['people', 'organizations', 'federation', 'settings'];

/** Throws the error page's ApiError unless the viewer administers the node. */
export function requireAdmin(me: Me | null): void {
  if (!me) throw new ApiError(401, null);
  if (!me.isAdmin) throw new ApiError(404, null);
}

export const adminTitle = (section: Section) => `${t.admin[section]} · ${t.admin.title}`;

export function adminFrame(section: Section, body: TemplateResult | TemplateResult[]) {
  return html`<h1>${t.admin.title}: ${t.admin[section]}</h1>
    <nav class="tabs" aria-label=${t.admin.sections}>
      <ul>
        ${SECTIONS.map(
          (s) =>
            html`<li>
              <a href=${`/admin/${s}`} aria-current=${s === section ? 'page' : nothing}>${t.admin[s]}</a>
            </li>`,
        )}
      </ul>
    </nav>
    ${body}`;
}

/** Who changed something, and when (the settings' history and the policy's source). */
export const changedBy = (by: { handle: string | null } | null) =>
  by?.handle ? `@${by.handle}` : t.admin.system;
