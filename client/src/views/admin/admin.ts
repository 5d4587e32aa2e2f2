// /admin, /admin/people and /admin/organizations (the node's administrators): people (find, deactivate,
// reactivate, merge two accounts) and organizations (add, change). Federation (federation.ts) and the
// node's settings (settings.ts) are pages of their own in the same frame (admin.frame.ts).
import { html, nothing } from 'lit';
import { ApiError, data, http, type Organization, type Profile } from '../../api/api';
import { pick } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { navigate, Page } from '../../router';
import { confirmDialog } from '../../ui/dialog';
import { Action, submitter } from '../../ui/form';
import { personItem } from '../people/people';
import { adminFrame, adminTitle, requireAdmin } from './admin.frame';

type Section = 'people' | 'organizations';
const SECTIONS: Section[] = ['people', 'organizations'];

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export class AdminPage extends Page {
  private readonly section: Section = (this.ctx.params.section as Section) ?? 'people';
  private readonly q = this.ctx.query.get('q') ?? '';
  private readonly status = this.ctx.query.get('status') === 'deactivated' ? 'deactivated' : 'active';
  private people: Profile[] = [];
  private organizations: Organization[] = [];
  private editing: string | null = null;
  private readonly result = new Action(() => this.update());
  private readonly merging = new Action(() => this.update());

  title() {
    return adminTitle(this.section);
  }

  async load() {
    requireAdmin(this.ctx.me);
    if (!SECTIONS.includes(this.section)) throw new ApiError(404, null);
    if (!this.ctx.params.section) return navigate('/admin/people', { replace: true });
    if (this.section === 'people') await this.readPeople();
    if (this.section === 'organizations') this.organizations = await data(http.GET('/organizations'));
  }

  private async readPeople() {
    const query = { limit: 50, status: this.status, ...(this.q ? { q: this.q } : {}) } as const;
    this.people = (await data(http.GET('/people', { params: { query } }))).items;
  }

  private async setStatus(p: Profile, change: 'deactivate' | 'reactivate') {
    if (
      change === 'deactivate' &&
      !(await confirmDialog(t.admin.confirmDeactivate(p.displayName), t.admin.deactivate))
    )
      return;
    await this.result.run(
      async () => {
        const path = { params: { path: { handle: p.handle } } };
        if (change === 'deactivate') await http.POST('/admin/people/{handle}/deactivate', path);
        else await http.POST('/admin/people/{handle}/reactivate', path);
        await this.readPeople();
      },
      change === 'deactivate' ? t.admin.isDeactivated(p.displayName) : t.admin.isReactivated(p.displayName),
    );
  }

  private readonly find = submitter((f) => {
    const params = new URLSearchParams();
    if (f.q) params.set('q', f.q);
    if (f.status === 'deactivated') params.set('status', 'deactivated');
    navigate(`/admin/people${params.size ? `?${params.toString()}` : ''}`);
  });

  private readonly merge = submitter(async (f, form) => {
    const from = (f.from ?? '').replace(/^@/, '');
    const into = (f.into ?? '').replace(/^@/, '');
    if (!(await confirmDialog(t.admin.confirmMerge(from, into), t.admin.mergeSubmit))) return;
    const ok = await this.merging.run(
      () => http.POST('/admin/people/merge', { body: { from, into } }),
      t.admin.merged(from, into),
    );
    if (ok) form.reset();
  });

  private saveOrganization(existing: Organization | null) {
    return submitter(async (f, form) => {
      const body = {
        name: { en: f.nameEn ?? '', fr: f.nameFr ?? '' },
        acronym: { en: f.acronymEn ?? '', fr: f.acronymFr ?? '' },
        emailDomains: list(f.domains ?? ''),
        claimValues: list(f.claims ?? ''),
      };
      const ok = await this.result.run(
        async () => {
          if (existing)
            await http.PATCH('/organizations/{slug}', {
              params: { path: { slug: existing.slug } },
              body,
            });
          else await http.POST('/organizations', { body: { slug: f.slug ?? '', ...body } });
          this.organizations = await data(http.GET('/organizations'));
        },
        t.admin.organizationSaved(body.name.en || body.name.fr),
      );
      if (ok) {
        this.editing = null;
        if (!existing) form.reset();
        this.update();
      }
    });
  }

  private organizationForm(o: Organization | null) {
    const id = o ? `org-${o.slug}` : 'org-new';
    return html`<form class="stack organization-form" id=${id} novalidate @submit=${this.saveOrganization(o)}>
      ${
        o
          ? nothing
          : html`<gcds-input
              input-id=${`${id}-slug`}
              name="slug"
              label=${t.admin.orgSlug}
              required
              pattern="[a-z0-9][a-z0-9\\-]{1,62}"
            ></gcds-input>`
      }
      <gcds-input
        input-id=${`${id}-name-en`}
        name="nameEn"
        label=${t.admin.orgNameEn}
        required
        value=${o?.name.en ?? ''}
      ></gcds-input>
      <gcds-input
        input-id=${`${id}-name-fr`}
        name="nameFr"
        label=${t.admin.orgNameFr}
        required
        value=${o?.name.fr ?? ''}
      ></gcds-input>
      <gcds-input
        input-id=${`${id}-acronym-en`}
        name="acronymEn"
        label=${t.admin.orgAcronymEn}
        required
        value=${o?.acronym.en ?? ''}
      ></gcds-input>
      <gcds-input
        input-id=${`${id}-acronym-fr`}
        name="acronymFr"
        label=${t.admin.orgAcronymFr}
        required
        value=${o?.acronym.fr ?? ''}
      ></gcds-input>
      <gcds-input
        input-id=${`${id}-domains`}
        name="domains"
        label=${t.admin.orgDomains}
        value=${o?.emailDomains.join(', ') ?? ''}
      ></gcds-input>
      <gcds-input
        input-id=${`${id}-claims`}
        name="claims"
        label=${t.admin.orgClaims}
        value=${o?.claimValues.join(', ') ?? ''}
      ></gcds-input>
      <gcds-button type="submit">${o ? t.common.save : t.admin.createOrganization}</gcds-button>
    </form>`;
  }

  private peopleSection() {
    return html`<form
        id="admin-find"
        class="filters"
        role="search"
        aria-label=${t.admin.find}
        novalidate
        @submit=${this.find}
      >
        <gcds-input
          input-id="admin-q"
          name="q"
          type="search"
          label=${t.admin.find}
          value=${this.q}
        ></gcds-input>
        <gcds-select select-id="admin-status" name="status" label=${t.admin.status} value=${this.status}>
          <option value="active" ?selected=${this.status === 'active'}>${t.admin.active}</option>
          <option value="deactivated" ?selected=${this.status === 'deactivated'}>
            ${t.admin.deactivated}
          </option>
        </gcds-select>
        <gcds-button type="submit">${t.people.apply}</gcds-button>
      </form>
      ${this.result.feedback()}
      <ul id="admin-people" class="people">
        ${
          this.people.length
            ? this.people.map((p) =>
                personItem(
                  p,
                  p.handle === this.ctx.me?.profile.handle
                    ? nothing
                    : p.status === 'active'
                      ? html`<gcds-button
                          button-role="danger"
                          size="small"
                          @click=${() => this.setStatus(p, 'deactivate')}
                          >${t.admin.deactivate}<span class="sr-only"> ${p.displayName}</span></gcds-button
                        >`
                      : html`<gcds-button
                          button-role="secondary"
                          size="small"
                          @click=${() => this.setStatus(p, 'reactivate')}
                          >${t.admin.reactivate}<span class="sr-only"> ${p.displayName}</span></gcds-button
                        >`,
                ),
              )
            : html`<li class="muted">${t.people.none}</li>`
        }
      </ul>
      <section aria-labelledby="merge-heading">
        <h2 id="merge-heading">${t.admin.merge}</h2>
        <p class="hint">${t.admin.mergeHelp}</p>
        <form id="merge" class="stack" novalidate @submit=${this.merge}>
          <gcds-input
            input-id="merge-from"
            name="from"
            label=${t.admin.mergeFrom}
            required
            maxlength="64"
          ></gcds-input>
          <gcds-input
            input-id="merge-into"
            name="into"
            label=${t.admin.mergeInto}
            required
            maxlength="64"
          ></gcds-input>
          ${this.merging.feedback()}
          <gcds-button type="submit" button-role="danger">${t.admin.mergeSubmit}</gcds-button>
        </form>
      </section>`;
  }

  private organizationsSection() {
    return html`${this.result.feedback()}
      ${
        this.organizations.length
          ? html`<ul id="organizations" class="organizations">
              ${this.organizations.map(
                (o) =>
                  html`<li data-slug=${o.slug}>
                    <strong>${pick(o.name)}</strong>
                    <span class="muted">(${pick(o.acronym)} · ${o.slug})</span>
                    <details ?open=${this.editing === o.slug}>
                      <summary>${t.admin.editOrganization(pick(o.name))}</summary>
                      ${this.organizationForm(o)}
                    </details>
                  </li>`,
              )}
            </ul>`
          : html`<p class="muted">${t.admin.noOrganizations}</p>`
      }
      <section aria-labelledby="new-org-heading">
        <h2 id="new-org-heading">${t.admin.newOrganization}</h2>
        ${this.organizationForm(null)}
      </section>`;
  }

  render() {
    return adminFrame(
      this.section,
      this.section === 'people' ? this.peopleSection() : this.organizationsSection(),
    );
  }
}
