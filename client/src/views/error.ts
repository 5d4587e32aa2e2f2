// What a page shows when it cannot be shown: not found (or not visible to this viewer: the server answers
// both with 404, so nothing leaks), sign in first, or another error.
import { html } from 'lit';
import { ApiError } from '../api/api';
import { t } from '../i18n/i18n';
import { errorText } from '../ui/form';
import { Page, type PageContext } from '../router';

export class ErrorPage extends Page {
  constructor(
    ctx: PageContext,
    private readonly error: unknown,
  ) {
    super(ctx);
  }
  private get status() {
    return this.error instanceof ApiError ? this.error.status : 0;
  }
  async load() {}
  title() {
    return this.status === 404
      ? t.common.notFoundTitle
      : this.status === 401
        ? t.signIn.title
        : t.common.error;
  }
  render() {
    if (this.status === 404)
      return html`<section class="not-found" data-status="404">
        <h1>${t.common.notFoundTitle}</h1>
        <p>${t.common.notFound}</p>
        <p>${t.common.notFoundHelp}</p>
        <p><gcds-link href="/">${t.common.backHome}</gcds-link></p>
      </section>`;
    if (this.status === 401)
      return html`<section data-status="401">
        <h1>${t.signIn.title}</h1>
        <p>${t.common.signInToSee}</p>
        <p><gcds-link href="/signin">${t.app.signIn}</gcds-link></p>
      </section>`;
    return html`<section data-status=${this.status}>
      <h1>${t.common.error}</h1>
      <p class="form-error" role="alert">${errorText(this.error)}</p>
      <p><gcds-link href="/">${t.common.backHome}</gcds-link></p>
    </section>`;
  }
}
