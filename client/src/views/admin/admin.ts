// /admin/... (the node's administrators): people (find, deactivate, reactivate, merge two accounts),
// organizations (add, change), federation (the delivery queue's health; the policy, read-only until it has
// an API) and the node's settings (read-only: they come from its configuration).
import { html, nothing } from 'lit';
import {
  ApiError,
  data,
  http,
  type DeliveryMetrics,
  type Organization,
  type Profile,
  type Provider,
} from '../../api/api';
import { dateTime, number, pick } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { navigate, Page } from '../../router';
import { confirmDialog } from '../../ui/dialog';
import { Action, submitter } from '../../ui/form';
import { personItem } from '../people/people';

type Section = 'people' | 'organizations' | 'federation' | 'settings';
const SECTIONS: Section[] = ['people', 'organizations', 'federation', 'settings'];

interface NodeInfo {
  software: { name: string; version: string };
  usage: { users: { total: number; activeMonth: number }; localPosts: number; localComments: number };
  metadata: { nodeName?: string };
}

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
  private metrics: DeliveryMetrics | null = null;
  private federationOff = false;
  private nodeinfo: NodeInfo | null = null;
  private providers: Provider[] = [];
  private readonly result = new Action(() => this.update());
  private readonly merging = new Action(() => this.update());

  title() {
    return `${t.admin[this.section]} · ${t.admin.title}`;
  }

  async load() {
    if (!this.ctx.me) throw new ApiError(401, null);
    if (!this.ctx.me.isAdmin || !SECTIONS.includes(this.section)) throw new ApiError(404, null);
    if (!this.ctx.params.section) return navigate('/admin/people', { replace: true });
    if (this.section === 'people') await this.readPeople();
    if (this.section === 'organizations') this.organizations = await data(http.GET('/organizations'));
    if (this.section === 'federation') await this.readMetrics();
    if (this.section === 'settings') {
      const [info, providers] = await Promise.all([
        fetch('/nodeinfo/2.1', { headers: { accept: 'application/json' } }).then((r) =>
          r.ok ? (r.json() as Promise<NodeInfo>) : null,
        ),
        data(http.GET('/auth/providers')),
      ]);
      this.nodeinfo = info;
      this.providers = providers;
    }
  }

  private async readPeople() {
    const query = { limit: 50, status: this.status, ...(this.q ? { q: this.q } : {}) } as const;
    this.people = (await data(http.GET('/people', { params: { query } }))).items;
  }

  private async readMetrics() {
    try {
      this.metrics = await data(http.GET('/admin/federation/deliveries'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.federationOff = true;
      else throw err;
    }
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

  private federationSection() {
    const m = this.metrics;
    return html`<section aria-labelledby="deliveries-heading">
        <h2 id="deliveries-heading">${t.admin.deliveries}</h2>
        ${
          this.federationOff || !m
            ? html`<p>${t.admin.federationOff}</p>`
            : html`<dl class="metrics" id="delivery-metrics">
                  <dt>${t.admin.queued}</dt>
                  <dd data-metric="queued">${number(m.queued)}</dd>
                  <dt>${t.admin.inFlight}</dt>
                  <dd data-metric="inFlight">${number(m.inFlight)}</dd>
                  <dt>${t.admin.failed}</dt>
                  <dd data-metric="failed">${number(m.failed)}</dd>
                  <dt>${t.admin.delivered}</dt>
                  <dd data-metric="delivered">${number(m.delivered)}</dd>
                </dl>
                <h3>${t.admin.hosts}</h3>
                ${
                  m.hosts.length
                    ? html`<table id="hosts">
                        <caption class="sr-only">
                          ${t.admin.hosts}
                        </caption>
                        <thead>
                          <tr>
                            <th scope="col">${t.admin.host}</th>
                            <th scope="col">${t.admin.circuit}</th>
                            <th scope="col">${t.admin.failures}</th>
                            <th scope="col">${t.admin.openUntil}</th>
                          </tr>
                        </thead>
                        <tbody>
                          ${m.hosts.map(
                            (h) =>
                              html`<tr>
                                <th scope="row">${h.host}</th>
                                <td>${t.admin.circuitState[h.state] ?? h.state}</td>
                                <td>${number(h.consecutiveFailures)}</td>
                                <td>${h.openUntil ? dateTime(h.openUntil) : '–'}</td>
                              </tr>`,
                          )}
                        </tbody>
                      </table>`
                    : html`<p class="muted">${t.admin.noHosts}</p>`
                }
                <gcds-button
                  button-role="secondary"
                  @click=${async () => {
                    await this.readMetrics();
                    this.update();
                  }}
                  >${t.admin.refresh}</gcds-button
                >`
        }
      </section>
      <section aria-labelledby="policy-heading">
        <h2 id="policy-heading">${t.admin.policy}</h2>
        <p>${t.admin.policyReadOnly}</p>
      </section>`;
  }

  private settingsSection() {
    const info = this.nodeinfo;
    return html`<p>${t.admin.settingsReadOnly}</p>
      ${
        info
          ? html`<section aria-labelledby="node-heading">
              <h2 id="node-heading">${t.admin.node}</h2>
              <dl class="metrics">
                <dt>${t.admin.nodeName}</dt>
                <dd>${info.metadata.nodeName ?? ''}</dd>
                <dt>${t.admin.software}</dt>
                <dd>${info.software.name} ${info.software.version}</dd>
                <dt>${t.admin.usage}</dt>
                <dd>
                  ${t.admin.usersTotal(info.usage.users.total)} ·
                  ${t.admin.activeMonth(info.usage.users.activeMonth)} ·
                  ${t.admin.posts(info.usage.localPosts + info.usage.localComments)}
                </dd>
              </dl>
            </section>`
          : nothing
      }
      <section aria-labelledby="providers-heading">
        <h2 id="providers-heading">${t.admin.providers}</h2>
        <ul>
          ${this.providers.map((p) => html`<li>${pick(p.name)} <span class="muted">(${p.id})</span></li>`)}
        </ul>
      </section>`;
  }

  render() {
    const body = {
      people: () => this.peopleSection(),
      organizations: () => this.organizationsSection(),
      federation: () => this.federationSection(),
      settings: () => this.settingsSection(),
    }[this.section]();
    return html`<h1>${t.admin.title}: ${t.admin[this.section]}</h1>
      <nav class="tabs" aria-label=${t.admin.sections}>
        <ul>
          ${SECTIONS.map(
            (s) =>
              html`<li>
                <a href=${`/admin/${s}`} aria-current=${s === this.section ? 'page' : nothing}
                  >${t.admin[s]}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
      ${body}`;
  }
}
