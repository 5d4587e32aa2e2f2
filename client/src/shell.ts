// The frame of every page, from the GC Design System: the header (skip link, language toggle, signature,
// search, main menu, who is signed in and whether the page is live) and the footer.
import { html, nothing } from 'lit';
import type { Me } from './api/api';
import { language, t } from './i18n/i18n';
import { pick } from './i18n/format';
import type { LiveStatus } from './live';

export interface ShellState {
  me: Me | null;
  csrf: string;
  status: LiveStatus;
  unread: number;
  path: string;
}

export interface ShellActions {
  switchLanguage(e: Event): void;
  search(e: CustomEvent<string>): void;
}

const otherLanguage = () => (language() === 'en' ? 'fr' : 'en');

function navLink(path: string, current: string, label: unknown, attrs: { id?: string } = {}) {
  const here = path === '/' ? current === '/' : current === path || current.startsWith(`${path}/`);
  return html`<gcds-nav-link id=${attrs.id ?? nothing} href=${path} ?current=${here} lang=${language()}
    >${label}</gcds-nav-link
  >`;
}

export function header(state: ShellState, actions: ShellActions) {
  const { me } = state;
  const lang = language();
  const badge =
    state.unread > 0
      ? html` <span id="unread" class="badge" data-count=${state.unread}
          ><span aria-hidden="true">${state.unread}</span
          ><span class="sr-only">${t.app.unread(state.unread)}</span></span
        >`
      : nothing;
  return html`
    <gcds-header skip-to-href="#main-content" lang=${lang}>
      <gcds-lang-toggle
        slot="toggle"
        lang=${lang}
        href=${`?lang=${otherLanguage()}`}
        @click=${actions.switchLanguage}
      ></gcds-lang-toggle>
      <gcds-search
        slot="search"
        lang=${lang}
        action="/search"
        method="get"
        name="q"
        search-id="site-search"
        placeholder="Ensemble"
        @gcdsSubmit=${actions.search}
      ></gcds-search>
      <gcds-top-nav slot="menu" label=${t.app.mainMenu} alignment="end" lang=${lang}>
        <gcds-nav-link slot="home" href="/" lang=${lang}>${t.app.name}</gcds-nav-link>
        ${navLink('/', state.path, t.app.home)} ${me ? navLink('/people', state.path, t.app.people) : nothing}
        ${navLink('/search', state.path, t.app.search)}
        ${me ? navLink('/notifications', state.path, html`${t.app.notifications}${badge}`, { id: 'bell' }) : nothing}
        ${me?.isAdmin ? navLink('/admin', state.path, t.app.admin) : nothing}
      </gcds-top-nav>
      <div slot="account" class="account">
        <span id="live-status" role="status" class=${state.status}
          >${state.status === 'live' ? t.app.live : t.app.reconnecting}</span
        >
        ${
          me
            ? html`<span id="who"
                  ><a href=${`/people/${me.profile.handle}`}
                    >${t.app.signedInAs(me.profile.displayName, me.profile.handle)}</a
                  ></span
                >
                ${
                  me.profile.organization
                    ? html`<span id="org">${pick(me.profile.organization.name)}</span>`
                    : nothing
                }
                <form method="post" action="/auth/logout" class="sign-out">
                  <input type="hidden" name="_csrf" .value=${state.csrf} />
                  <button type="submit" class="link-button">${t.app.signOut}</button>
                </form>`
            : html`<a id="sign-in" href="/signin">${t.app.signIn}</a>`
        }
      </div>
    </gcds-header>
  `;
}

export function footer() {
  return html`<gcds-footer display="compact" lang=${language()}></gcds-footer>`;
}
