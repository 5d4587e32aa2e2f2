// /signin: the identity providers this node trusts, one button each (their sign-in comes back to /).
import { html } from 'lit';
import { data, http, type Provider } from '../api/api';
import { pick } from '../i18n/format';
import { t } from '../i18n/i18n';
import { Page } from '../router';

export class SignInPage extends Page {
  private providers: Provider[] = [];
  async load() {
    this.providers = await data(http.GET('/auth/providers'));
  }
  title() {
    return t.signIn.title;
  }
  render() {
    return html`<h1>${t.signIn.title}</h1>
      <p>${t.signIn.intro}</p>
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
