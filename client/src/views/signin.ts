// /signin: the identity providers this node trusts, one button each (their sign-in comes back to /), and
// the notice its administrators set (who may sign in here, and how; /admin/settings).
import { html, nothing } from 'lit';
import { data, http, type Provider } from '../api/api';
import { pick } from '../i18n/format';
import { t } from '../i18n/i18n';
import { Page } from '../router';

export class SignInPage extends Page {
  private providers: Provider[] = [];
  private notice: { en: string; fr: string } = { en: '', fr: '' };
  async load() {
    const [providers, node] = await Promise.all([data(http.GET('/auth/providers')), data(http.GET('/node'))]);
    this.providers = providers;
    this.notice = node.signInNotice;
  }
  title() {
    return t.signIn.title;
  }
  render() {
    return html`<h1>${t.signIn.title}</h1>
      <p>${t.signIn.intro}</p>
      ${pick(this.notice) ? html`<p id="sign-in-notice" class="notice">${pick(this.notice)}</p>` : nothing}
      ${
        this.providers.length
          ? html`<ul class="providers">
              ${this.providers.map(
                (p) =>
                  html`<li>
                    <gcds-button type="link" href=${p.loginUrl} button-role="primary"
                      >${t.signIn.with(pick(p.name))}</gcds-button
                    >
                  </li>`,
              )}
            </ul>`
          : html`<p>${t.signIn.none}</p>`
      }`;
  }
}
