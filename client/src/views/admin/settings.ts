// /admin/settings: the node's settings (name, description, contact, default language, the sign-in page's
// notice; docs/adr/0022-node-settings.md), changed here at run time and in force at once on every process;
// each value set here can go back to the node's configuration; the history says who changed what, when.
// Below: what the node says of itself (NodeInfo) and the identity providers it trusts (its configuration).
import { html, nothing } from 'lit';
import { data, http, type Body, type NodeSettings, type Provider, type SettingsHistory } from '../../api/api';
import { dateTime, pick } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { Page } from '../../router';
import { Action, submitter } from '../../ui/form';
import { adminFrame, adminTitle, changedBy, requireAdmin } from './admin.frame';

interface NodeInfo {
  software: { name: string; version: string };
  usage: { users: { total: number; activeMonth: number }; localPosts: number; localComments: number };
  metadata: { nodeName?: string };
}

type Patch = Body<'/admin/settings', 'patch'>;
type Key = keyof Patch;
const KEYS: Key[] = ['name', 'description', 'contactEmail', 'defaultLanguage', 'signInNotice'];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A value of the history as a person reads it. */
function shown(value: unknown): string {
  if (value === null || value === undefined || value === '') return t.admin.empty;
  if (Array.isArray(value)) return value.length ? value.join(', ') : t.admin.empty;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export class AdminSettingsPage extends Page {
  private settings!: NodeSettings;
  private history: SettingsHistory['items'] = [];
  private nodeinfo: NodeInfo | null = null;
  private providers: Provider[] = [];
  private readonly saving = new Action(() => this.update());

  title() {
    return adminTitle('settings');
  }

  async load() {
    requireAdmin(this.ctx.me);
    const [settings, info, providers] = await Promise.all([
      data(http.GET('/admin/settings')),
      fetch('/nodeinfo/2.1', { headers: { accept: 'application/json' } }).then((r) =>
        r.ok ? (r.json() as Promise<NodeInfo>) : null,
      ),
      data(http.GET('/auth/providers')),
      this.readHistory(),
    ]);
    this.settings = settings;
    this.nodeinfo = info;
    this.providers = providers;
  }

  private async readHistory() {
    this.history = (
      await data(http.GET('/admin/settings/history', { params: { query: { limit: 10 } } }))
    ).items;
  }

  private async write(patch: Patch, success: string) {
    return this.saving.run(async () => {
      this.settings = await data(http.PATCH('/admin/settings', { body: patch }));
      await this.readHistory();
    }, success);
  }

  private readonly save = submitter(async (f) => {
    const v = this.settings.values;
    const next = {
      name: { en: f.nameEn ?? '', fr: f.nameFr ?? '' },
      description: { en: f.descriptionEn ?? '', fr: f.descriptionFr ?? '' },
      contactEmail: f.contactEmail ? f.contactEmail : null,
      defaultLanguage: f.defaultLanguage === 'fr' ? ('fr' as const) : ('en' as const),
      signInNotice: { en: f.noticeEn ?? '', fr: f.noticeFr ?? '' },
    };
    // Only what changed is sent: a value left as it was keeps following the configuration.
    const patch: Patch = {};
    for (const key of KEYS) if (!same(next[key], v[key])) Object.assign(patch, { [key]: next[key] });
    if (!Object.keys(patch).length) {
      this.saving.done = t.admin.nothingChanged;
      return this.update();
    }
    await this.write(patch, t.admin.settingsSaved);
  });

  private textarea(id: string, name: string, label: string, value: string, hint?: string) {
    return html`<p class="field">
      <label for=${id}>${label}</label>
      ${hint ? html`<span class="hint" id=${`${id}-hint`}>${hint}</span>` : nothing}
      <textarea
        id=${id}
        name=${name}
        rows="3"
        maxlength="1000"
        aria-describedby=${hint ? `${id}-hint` : nothing}
        .value=${value}
      ></textarea>
    </p>`;
  }

  private form() {
    const v = this.settings.values;
    return html`<form id="node-settings" class="stack" novalidate @submit=${this.save}>
      <gcds-input
        input-id="node-name-en"
        name="nameEn"
        label=${t.admin.orgNameEn}
        required
        maxlength="100"
        value=${v.name.en}
      ></gcds-input>
      <gcds-input
        input-id="node-name-fr"
        name="nameFr"
        label=${t.admin.orgNameFr}
        required
        maxlength="100"
        value=${v.name.fr}
      ></gcds-input>
      ${this.textarea('node-description-en', 'descriptionEn', t.admin.descriptionEn, v.description.en)}
      ${this.textarea('node-description-fr', 'descriptionFr', t.admin.descriptionFr, v.description.fr)}
      <gcds-input
        input-id="node-contact"
        name="contactEmail"
        type="email"
        label=${t.admin.contactEmail}
        maxlength="200"
        value=${v.contactEmail ?? ''}
      ></gcds-input>
      <gcds-select
        select-id="node-language"
        name="defaultLanguage"
        label=${t.admin.defaultLanguage}
        hint=${t.admin.defaultLanguageHint}
        value=${v.defaultLanguage}
      >
        <option value="en" ?selected=${v.defaultLanguage === 'en'}>${t.common.english}</option>
        <option value="fr" ?selected=${v.defaultLanguage === 'fr'}>${t.common.french}</option>
      </gcds-select>
      ${this.textarea('node-notice-en', 'noticeEn', t.admin.noticeEn, v.signInNotice.en, t.admin.noticeHint)}
      ${this.textarea('node-notice-fr', 'noticeFr', t.admin.noticeFr, v.signInNotice.fr, t.admin.noticeHint)}
      ${this.saving.feedback()}
      <gcds-button type="submit" ?disabled=${this.saving.busy}>${t.common.save}</gcds-button>
    </form>`;
  }

  private overridden() {
    const set = this.settings.overridden.filter((k): k is Key => KEYS.includes(k as Key));
    return html`<section aria-labelledby="overridden-heading">
      <h2 id="overridden-heading">${t.admin.overridden}</h2>
      ${
        set.length
          ? html`<ul id="overridden">
              ${set.map(
                (key) =>
                  html`<li>
                    ${t.admin.field[key]}
                    <button
                      type="button"
                      class="link-button"
                      @click=${() => this.write({ [key]: null }, t.admin.fieldReset(t.admin.field[key]))}
                    >
                      ${t.admin.backToEnvironment}<span class="sr-only">: ${t.admin.field[key]}</span>
                    </button>
                  </li>`,
              )}
            </ul>`
          : html`<p class="muted">${t.admin.noneOverridden}</p>`
      }
    </section>`;
  }

  private historySection() {
    return html`<section aria-labelledby="history-heading">
      <h2 id="history-heading">${t.admin.history}</h2>
      ${
        this.history.length
          ? html`<ol id="settings-history" class="history">
              ${this.history.map(
                (h) =>
                  html`<li data-revision=${h.revision}>
                    <p>${t.admin.change(h.revision, dateTime(h.at), changedBy(h.by))}</p>
                    <ul>
                      ${h.changes.map(
                        (c) => html`<li><code>${c.field}</code>: ${shown(c.from)} → ${shown(c.to)}</li>`,
                      )}
                    </ul>
                  </li>`,
              )}
            </ol>`
          : html`<p class="muted">${t.admin.noHistory}</p>`
      }
    </section>`;
  }

  render() {
    const info = this.nodeinfo;
    return adminFrame('settings', [
      html`<p>${t.admin.settingsHelp}</p>`,
      this.form(),
      this.overridden(),
      this.historySection(),
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
        : html``,
      html`<section aria-labelledby="providers-heading">
        <h2 id="providers-heading">${t.admin.providers}</h2>
        <ul>
          ${this.providers.map((p) => html`<li>${pick(p.name)} <span class="muted">(${p.id})</span></li>`)}
        </ul>
      </section>`,
    ]);
  }
}
