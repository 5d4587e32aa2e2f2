// /admin/federation: the delivery queue's health (waiting, in flight, failed, servers with failures and
// their circuit) and the federation policy (open, block list or allow list, docs/adr/0022-node-settings.md),
// changed here at run time: in force at once on every process of the node, and audited.
import { html, nothing } from 'lit';
import { ApiError, data, http, type DeliveryMetrics, type FederationPolicy } from '../../api/api';
import { dateTime, number } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { Page } from '../../router';
import { confirmDialog } from '../../ui/dialog';
import { Action, submitter } from '../../ui/form';
import { adminFrame, adminTitle, requireAdmin } from './admin.frame';

type Mode = FederationPolicy['mode'];
const MODES: Mode[] = ['open', 'blocklist', 'allowlist'];

/** Domains as typed: one per line, or separated by commas or spaces. */
export const domainList = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

export class AdminFederationPage extends Page {
  private metrics: DeliveryMetrics | null = null;
  private federationOff = false;
  private policy!: FederationPolicy;
  private mode: Mode = 'open';
  private readonly saving = new Action(() => this.update());

  title() {
    return adminTitle('federation');
  }

  async load() {
    requireAdmin(this.ctx.me);
    const [, policy] = await Promise.all([this.readMetrics(), data(http.GET('/admin/federation/policy'))]);
    this.setPolicy(policy);
  }

  private setPolicy(policy: FederationPolicy) {
    this.policy = policy;
    this.mode = policy.mode;
  }

  private async readMetrics() {
    try {
      this.metrics = await data(http.GET('/admin/federation/deliveries'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.federationOff = true;
      else throw err;
    }
  }

  private readonly save = submitter(async (f) => {
    const mode = MODES.includes(f.mode as Mode) ? (f.mode as Mode) : 'open';
    const domains = domainList(f.domains ?? '');
    // An allow list without a domain cuts the node off from every other node: ask first.
    if (
      mode === 'allowlist' &&
      !domains.length &&
      !(await confirmDialog(t.admin.confirmEmptyAllow, t.common.save))
    )
      return;
    await this.saving.run(async () => {
      this.setPolicy(await data(http.PUT('/admin/federation/policy', { body: { mode, domains } })));
    }, t.admin.policySaved);
  });

  private async reset() {
    await this.saving.run(async () => {
      this.setPolicy(await data(http.DELETE('/admin/federation/policy')));
    }, t.admin.policyReset);
  }

  private deliveries() {
    const m = this.metrics;
    if (this.federationOff || !m) return html`<p>${t.admin.federationOff}</p>`;
    return html`<dl class="metrics" id="delivery-metrics">
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
      >`;
  }

  private policyForm() {
    const p = this.policy;
    return html`<p id="policy-source">
        ${p.source === 'settings' ? t.admin.policyFromSettings(p.revision) : t.admin.policyFromEnvironment}
      </p>
      <form id="policy" class="stack" novalidate @submit=${this.save}>
        <fieldset class="visibility">
          <legend>${t.admin.policyMode}</legend>
          ${MODES.map(
            (mode) =>
              html`<p class="checkbox">
                <input
                  type="radio"
                  name="mode"
                  id=${`policy-${mode}`}
                  value=${mode}
                  .checked=${this.mode === mode}
                  aria-describedby=${`policy-${mode}-hint`}
                  @change=${() => {
                    this.mode = mode;
                    this.update();
                  }}
                />
                <label for=${`policy-${mode}`}>${t.admin.mode[mode]}</label>
                <span class="hint" id=${`policy-${mode}-hint`}>${t.admin.modeHint[mode]}</span>
              </p>`,
          )}
        </fieldset>
        <p class="field">
          <label for="policy-domains">${t.admin.domains}</label>
          <span class="hint" id="policy-domains-hint">${t.admin.domainsHint}</span>
          <textarea
            id="policy-domains"
            name="domains"
            rows="5"
            aria-describedby="policy-domains-hint"
            .value=${p.domains.join('\n')}
          ></textarea>
        </p>
        ${this.saving.feedback()}
        <div class="actions">
          <gcds-button type="submit" ?disabled=${this.saving.busy}>${t.common.save}</gcds-button>
          ${
            p.source === 'settings'
              ? html`<gcds-button type="button" button-role="secondary" @click=${() => this.reset()}
                  >${t.admin.backToEnvironment}</gcds-button
                >`
              : nothing
          }
        </div>
      </form>`;
  }

  render() {
    return adminFrame('federation', [
      html`<section aria-labelledby="deliveries-heading">
        <h2 id="deliveries-heading">${t.admin.deliveries}</h2>
        ${this.deliveries()}
      </section>`,
      html`<section aria-labelledby="policy-heading">
        <h2 id="policy-heading">${t.admin.policy}</h2>
        ${this.policyForm()}
      </section>`,
    ]);
  }
}
