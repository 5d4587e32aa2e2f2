import { Router } from 'express';
import { escapeHtml } from '../core/html.js';
import type { MailCatcher } from './mail.catcher.js';

/** Development only: the mail the embedded SMTP catcher kept, newest first. */
export function devMailRoutes(catcher: MailCatcher): Router {
  const router = Router();
  router.get('/dev/mail', (_req, res) => {
    const rows = [...catcher.messages]
      .reverse()
      .map(
        (m) =>
          `<article><h2>${escapeHtml(m.subject)}</h2><p><small>${m.at.toISOString()} · from ${escapeHtml(m.from)} to ${escapeHtml(
            m.to.join(', '),
          )}</small></p><pre>${escapeHtml(m.text)}</pre></article>`,
      )
      .join('<hr>');
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Development mail</title><link rel="stylesheet" href="/styles.css"></head><body><main><h1>Development mail</h1><p>Mail this development node sent. It exists only in development.</p>${rows || '<p>No mail yet.</p>'}</main></body></html>`,
      );
  });
  return router;
}
