import { Router } from 'express';
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { requirePerson } from '../core/caller.js';
import type { Api } from '../core/api.js';
import { asyncHandler } from '../core/http.js';
import { escapeHtml } from '../core/html.js';
import { groupParams } from '../groups/group.schemas.js';
import { idParams } from '../threads/thread.schemas.js';
import type { NotificationMail } from './notification.mail.js';
import { notificationKinds } from './notification.repository.js';
import type { NotificationService } from './notification.service.js';

const notificationView = z.object({
  id: z.string(),
  kind: z.enum(notificationKinds),
  group: z.string().nullable(),
  threadId: z.string().nullable(),
  replyId: z.string().nullable(),
  actor: z.string().nullable(),
  createdAt: z.string(),
  read: z.boolean(),
});
const email = z.object({ email: z.enum(['immediate', 'daily', 'weekly', 'none']) }).strict();
const groupLevel = z.object({ level: z.enum(['all', 'default', 'mute']) }).strict();
const threadLevel = z.object({ level: z.enum(['all', 'none']) }).strict();

export function notificationRoutes(api: Api, notifications: NotificationService): Router {
  const router = Router();
  const tags = ['notifications'];
  api.route(
    router,
    {
      method: 'get',
      path: '/notifications',
      summary: 'My notifications, newest first, with the unread count',
      tags,
      access: 'person',
      query: z.object({
        cursor: z.coerce.number().int().min(1).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
      }),
      response: z.object({
        items: z.array(notificationView),
        unread: z.number().int().describe('Unread among the latest 100'),
        nextCursor: z.string().nullable(),
      }),
    },
    async ({ caller, query }) => notifications.list(caller, query),
  );
  api.command(
    router,
    {
      method: 'post',
      path: '/notifications/read',
      summary: 'Mark some notifications read (ids), or all of them (all: true)',
      tags,
      access: 'person',
      body: z
        .object({
          ids: z
            .array(z.string().regex(/^[0-9a-f]{24}:\d{1,15}$/))
            .max(100)
            .optional(),
          all: z.boolean().optional(),
        })
        .strict()
        .refine((b) => b.all === true || (b.ids?.length ?? 0) > 0, 'give ids or all: true'),
    },
    async ({ caller, body }) => notifications.markRead(caller, body),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/notifications/settings',
      summary: 'How I get notification mail',
      tags,
      access: 'person',
      response: email,
    },
    async ({ caller }) => notifications.settings(caller),
  );
  api.route(
    router,
    {
      method: 'put',
      path: '/notifications/settings',
      summary: 'Notification mail: immediately, a daily or weekly digest, or none',
      tags,
      access: 'person',
      body: email,
      status: 200,
      response: email,
    },
    async ({ caller, body }) =>
      notifications.setEmail(new ObjectId(requirePerson(caller).personId), body.email),
  );
  for (const method of ['get', 'put'] as const) {
    api.route(
      router,
      {
        method,
        path: '/groups/:group/subscription',
        summary:
          method === 'get'
            ? 'How I follow a group'
            : 'Follow a group (all: new threads), the default (replies to me, mentions, threads I follow), or mute it',
        tags,
        access: 'person',
        params: groupParams,
        ...(method === 'put' ? { body: groupLevel } : {}),
        status: 200,
        response: z.object({ group: z.string(), level: groupLevel.shape.level }),
      },
      async ({ caller, params, body }) =>
        method === 'get'
          ? notifications.levels(caller, { group: params.group })
          : notifications.setGroupLevel(caller, params.group, (body as z.output<typeof groupLevel>).level),
    );
    api.route(
      router,
      {
        method,
        path: '/threads/:id/subscription',
        summary: method === 'get' ? 'Whether I follow a thread' : 'Follow a thread (all) or stop (none)',
        tags,
        access: 'person',
        params: idParams,
        ...(method === 'put' ? { body: threadLevel } : {}),
        status: 200,
        response: z.object({ threadId: z.string(), level: threadLevel.shape.level }),
      },
      async ({ caller, params, body }) =>
        method === 'get'
          ? notifications.levels(caller, { threadId: params.id })
          : notifications.setThreadLevel(caller, params.id, (body as z.output<typeof threadLevel>).level),
    );
  }
  return router;
}

/**
 * `/mail/unsubscribe`: the link in every notification mail. GET shows a button (link scanners must not
 * unsubscribe anyone); POST (the button, or a mail client's RFC 8058 one-click request) turns mail off.
 * The token in the link is the authority: no session, no CSRF token.
 */
export function unsubscribeRoutes(mail: NotificationMail, notifications: NotificationService): Router {
  const router = Router();
  const page = (title: string, body: string) =>
    `<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
  const check = (query: Record<string, unknown>) =>
    typeof query.u === 'string' && typeof query.t === 'string' ? mail.verify(query.u, query.t) : null;
  router.get('/mail/unsubscribe', (req, res) => {
    const user = check(req.query);
    if (!user) {
      res
        .status(400)
        .type('html')
        .send(
          page(
            'Invalid link · Lien non valide',
            '<p>This link is not valid. · Ce lien n’est pas valide.</p>',
          ),
        );
      return;
    }
    const action = `/mail/unsubscribe?u=${encodeURIComponent(String(req.query.u))}&t=${encodeURIComponent(String(req.query.t))}`;
    res
      .type('html')
      .send(
        page(
          'Stop notification emails · Ne plus recevoir de courriels',
          `<form method="post" action="${escapeHtml(action)}"><button type="submit">Stop emails · Arrêter les courriels</button></form>`,
        ),
      );
  });
  router.post(
    '/mail/unsubscribe',
    asyncHandler(async (req, res) => {
      const user = check(req.query);
      if (!user) {
        res
          .status(400)
          .type('html')
          .send(page('Invalid link · Lien non valide', '<p>This link is not valid.</p>'));
        return;
      }
      await notifications.setEmail(user, 'none');
      res
        .type('html')
        .send(
          page(
            'Done · C’est fait',
            '<p>You will get no more notification emails. · Vous ne recevrez plus de courriels de notification.</p>',
          ),
        );
    }),
  );
  return router;
}
