// /people: the directory of the node's people, searchable by name, skill or job title, filtered by
// organization, skill and first official language (the filters are the address's query, so a filtered
// directory can be shared and the back button works).
import { html, nothing } from 'lit';
import { ApiError, data, http, type Organization, type Profile } from '../../api/api';
import { pick } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { navigate, Page } from '../../router';
import { submitter } from '../../ui/form';
import { avatar } from '../../ui/html';

export function personItem(p: Profile, extra: unknown = nothing) {
  const title = p.jobTitle ? pick(p.jobTitle) : '';
  return html`<li class="person-item" data-handle=${p.handle}>
    ${avatar(p.displayName, p.avatarUrl)}
    <div>
      <a href=${`/people/${encodeURIComponent(p.handle)}`}>${p.displayName}</a>
      <span class="muted">@${p.handle}</span>
      ${p.status === 'deactivated' ? html`<span class="badge">${t.common.deactivated}</span>` : nothing}
      <p class="muted small">
        ${[title, p.organization ? pick(p.organization.name) : ''].filter(Boolean).join(' · ')}
      </p>
      ${p.skills?.length ? html`<p class="small">${p.skills.join(', ')}</p>` : nothing}
    </div>
    ${extra}
  </li>`;
}

export class PeoplePage extends Page {
  private people: Profile[] = [];
  private nextCursor: string | null = null;
  private organizations: Organization[] = [];
  private readonly filters = {
    q: this.ctx.query.get('q') ?? '',
    organization: this.ctx.query.get('organization') ?? '',
    skill: this.ctx.query.get('skill') ?? '',
    language: this.ctx.query.get('language') ?? '',
  };

  title() {
    return t.people.directory;
  }

  private query(cursor?: string) {
    const f = this.filters;
    const language: 'en' | 'fr' | undefined =
      f.language === 'en' ? 'en' : f.language === 'fr' ? 'fr' : undefined;
    return {
      limit: 30,
      ...(f.q ? { q: f.q } : {}),
      ...(f.organization ? { organization: f.organization } : {}),
      ...(f.skill ? { skill: f.skill } : {}),
      ...(language ? { language } : {}),
      ...(cursor ? { cursor } : {}),
    } as const;
  }

  async load() {
    if (!this.ctx.me) throw new ApiError(401, null);
    const [page, orgs] = await Promise.all([
      data(http.GET('/people', { params: { query: this.query() } })),
      data(http.GET('/organizations')),
    ]);
    this.people = page.items;
    this.nextCursor = page.nextCursor;
    this.organizations = orgs;
  }

  private async more() {
    if (!this.nextCursor) return;
    const page = await data(http.GET('/people', { params: { query: this.query(this.nextCursor) } }));
    this.people = [...this.people, ...page.items];
    this.nextCursor = page.nextCursor;
    this.update();
  }

  private readonly search = submitter((f) => {
    const params = new URLSearchParams();
    for (const key of ['q', 'organization', 'skill', 'language'] as const)
      if (f[key]) params.set(key, f[key]);
    navigate(`/people${params.size ? `?${params.toString()}` : ''}`);
  });

  render() {
    const f = this.filters;
    return html`<h1>${t.people.directory}</h1>
      <form
        id="directory-filters"
        class="filters"
        role="search"
        aria-label=${t.people.directory}
        novalidate
        @submit=${this.search}
      >
        <gcds-input
          input-id="people-q"
          name="q"
          type="search"
          label=${t.people.query}
          value=${f.q}
        ></gcds-input>
        <gcds-select
          select-id="people-organization"
          name="organization"
          label=${t.people.organization}
          value=${f.organization}
        >
          <option value="">${t.people.anyOrganization}</option>
          ${this.organizations.map(
            (o) =>
              html`<option value=${o.slug} ?selected=${o.slug === f.organization}>${pick(o.name)}</option>`,
          )}
        </gcds-select>
        <gcds-input
          input-id="people-skill"
          name="skill"
          label=${t.people.skill}
          value=${f.skill}
        ></gcds-input>
        <gcds-select
          select-id="people-language"
          name="language"
          label=${t.people.language}
          value=${f.language}
        >
          <option value="">${t.people.anyLanguage}</option>
          <option value="en" ?selected=${f.language === 'en'}>${t.common.english}</option>
          <option value="fr" ?selected=${f.language === 'fr'}>${t.common.french}</option>
        </gcds-select>
        <gcds-button type="submit">${t.people.apply}</gcds-button>
      </form>
      <ul id="people" class="people">
        ${this.people.length ? this.people.map(personItem) : html`<li class="muted">${t.people.none}</li>`}
      </ul>
      ${
        this.nextCursor
          ? html`<gcds-button button-role="secondary" @click=${() => this.more()}
              >${t.common.loadMore}</gcds-button
            >`
          : nothing
      }`;
  }
}
