// Confirmation in a modal <dialog> (focus stays in it; Escape or Cancel closes it; focus returns to what
// opened it), in the page's language.
import { html, render } from 'lit';
import { t } from '../i18n/i18n';

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(message: string, confirmLabel: string = t.common.confirm): Promise<boolean> {
  return new Promise((resolve) => {
    const opener = document.activeElement as HTMLElement | null;
    const host = document.createElement('div');
    document.body.append(host);
    const close = (answer: boolean) => {
      dialog.close();
      host.remove();
      opener?.focus();
      resolve(answer);
    };
    render(
      html`<dialog class="confirm" aria-labelledby="confirm-text" @cancel=${() => close(false)}>
        <p id="confirm-text">${message}</p>
        <div class="actions">
          <gcds-button type="button" button-role="danger" @click=${() => close(true)}
            >${confirmLabel}</gcds-button
          >
          <gcds-button type="button" button-role="secondary" @click=${() => close(false)}
            >${t.common.cancel}</gcds-button
          >
        </div>
      </dialog>`,
      host,
    );
    const dialog = host.querySelector('dialog')!;
    dialog.showModal();
  });
}
