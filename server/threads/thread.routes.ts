import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { groupParams } from '../groups/group.schemas.js';
import type { DiscoveryService } from './discovery.service.js';
import type { ReportService } from './report.service.js';
import {
  idParams,
  pageQuery,
  removeInput,
  replyInput,
  replyPage,
  replyPatch,
  replyView,
  threadInput,
  threadPage,
  threadPatch,
  threadView,
} from './thread.schemas.js';
import type { ThreadService } from './thread.service.js';

const feedPage = z.object({
  items: z.array(
    z.union([
      z.object({ kind: z.literal('thread'), thread: threadView }),
      z.object({ kind: z.literal('reply'), reply: replyView, threadTitle: z.string() }),
    ]),
  ),
  nextCursor: z.string().nullable(),
});

export function threadRoutes(
  api: Api,
  threads: ThreadService,
  discovery: DiscoveryService,
  reports: ReportService,
): Router {
  const router = Router();
  const tags = ['threads'];

  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/threads',
      summary: 'Start a discussion thread (members)',
      tags,
      access: 'user',
      params: groupParams,
      body: threadInput,
      response: threadView,
    },
    async ({ actor, params, body }) => threads.create(actor, params.group, body),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group/threads',
      summary: "A group's threads: pinned, then newest activity first",
      tags,
      access: 'public',
      params: groupParams,
      query: pageQuery,
      response: threadPage,
    },
    async ({ actor, params, query }) => threads.list(actor, params.group, query),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/threads/:id',
      summary: 'A thread',
      tags,
      access: 'public',
      params: idParams,
      response: threadView,
    },
    async ({ actor, params }) => threads.get(actor, params.id),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/threads/:id/replies',
      summary: "A thread's replies, oldest first, with parent and depth",
      tags,
      access: 'public',
      params: idParams,
      query: pageQuery,
      response: replyPage,
    },
    async ({ actor, params, query }) => threads.replies(actor, params.id, query),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/replies/:id',
      summary: 'One reply (as the thread lists it)',
      tags,
      access: 'public',
      params: idParams,
      response: replyView,
    },
    async ({ actor, params }) => threads.getReply(actor, params.id),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/threads/:id/replies',
      summary: 'Reply to the thread or to a reply (parentId)',
      tags,
      access: 'user',
      params: idParams,
      body: replyInput,
      response: replyView,
    },
    async ({ actor, params, body }) => threads.reply(actor, params.id, body),
  );
  api.command(
    router,
    {
      method: 'patch',
      path: '/threads/:id',
      summary: 'Edit your thread',
      tags,
      access: 'user',
      params: idParams,
      body: threadPatch,
    },
    async ({ actor, params, body }) => threads.edit(actor, 'threads', params.id, body),
  );
  api.command(
    router,
    {
      method: 'patch',
      path: '/replies/:id',
      summary: 'Edit your reply',
      tags,
      access: 'user',
      params: idParams,
      body: replyPatch,
    },
    async ({ actor, params, body }) => threads.edit(actor, 'replies', params.id, body),
  );
  for (const kind of ['threads', 'replies'] as const) {
    const noun = kind === 'threads' ? 'thread' : 'reply';
    api.command(
      router,
      {
        method: 'delete',
        path: `/${kind}/:id`,
        summary: `Delete your ${noun}, or remove one as a moderator (reason required); a tombstone stays`,
        tags,
        access: 'user',
        params: idParams,
        body: removeInput,
      },
      async ({ actor, params, body }) => threads.remove(actor, kind, params.id, body.reason),
    );
    for (const [method, liked] of [
      ['put', true],
      ['delete', false],
    ] as const) {
      api.route(
        router,
        {
          method,
          path: `/${kind}/:id/like`,
          summary: liked ? `Like a ${noun}` : `Take back a like of a ${noun}`,
          tags,
          access: 'user',
          params: idParams,
          status: 200,
          response: z.object({ likeCount: z.number().int() }),
        },
        async ({ actor, params }) => threads.like(actor, kind, params.id, liked),
      );
    }
    api.route(
      router,
      {
        method: 'post',
        path: `/${kind}/:id/reports`,
        summary: `Report a ${noun} to the group's moderators`,
        tags: ['moderation'],
        access: 'user',
        params: idParams,
        body: z.object({ reason: z.string().trim().min(3).max(1000) }).strict(),
        response: z.object({ id: z.string() }),
      },
      async ({ actor, params, body }) => reports.report(actor, kind, params.id, body.reason),
    );
  }
  for (const flag of ['pinned', 'locked'] as const) {
    const path = `/threads/:id/${flag === 'pinned' ? 'pin' : 'lock'}`;
    for (const [method, value] of [
      ['put', true],
      ['delete', false],
    ] as const) {
      api.command(
        router,
        {
          method,
          path,
          summary: `${value ? 'Set' : 'Clear'} ${flag} (moderators)`,
          tags,
          access: 'user',
          params: idParams,
        },
        async ({ actor, params }) => threads.setFlag(actor, params.id, flag, value),
      );
    }
  }

  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group/reports',
      summary: 'The report queue (moderators)',
      tags: ['moderation'],
      access: 'user',
      params: groupParams,
      query: z.object({ state: z.enum(['open', 'dismissed', 'removed']).default('open') }),
      response: z.array(
        z.object({
          id: z.string(),
          kind: z.enum(['thread', 'reply']),
          targetId: z.string(),
          reason: z.string(),
          state: z.string(),
          createdAt: z.string(),
          note: z.string().nullable(),
        }),
      ),
    },
    async ({ actor, params, query }) => reports.queue(actor, params.group, query.state),
  );
  api.command(
    router,
    {
      method: 'post',
      path: '/groups/:group/reports/:report/resolve',
      summary: 'Dismiss a report, or remove the reported post (moderators)',
      tags: ['moderation'],
      access: 'user',
      params: groupParams.extend({ report: z.string().regex(/^[0-9a-f]{24}$/, 'expected an id') }),
      body: z
        .object({ decision: z.enum(['dismiss', 'remove']), note: z.string().trim().max(1000).default('') })
        .strict(),
    },
    async ({ actor, params, body }) =>
      reports.resolve(actor, params.group, params.report, body.decision, body.note),
  );

  api.route(
    router,
    {
      method: 'post',
      path: '/posts/preview',
      summary: 'Render a post body as it would be written (mentions linked, sanitised), without writing it',
      tags,
      access: 'user',
      body: z.object({ body: z.string().max(20_000) }).strict(),
      status: 200,
      response: z.object({ html: z.string() }),
    },
    async ({ actor, body }) => threads.preview(actor, body.body),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/feed',
      summary: 'Recent threads and replies in your groups',
      tags: ['discovery'],
      access: 'user',
      query: pageQuery,
      response: feedPage,
    },
    async ({ actor, query }) => discovery.feed(actor, query),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/search',
      summary: 'Search threads and replies you may read (accents and case ignored)',
      tags: ['discovery'],
      access: 'public',
      query: pageQuery.extend({ q: z.string().trim().min(1).max(200) }),
      response: feedPage,
    },
    async ({ actor, query }) => discovery.search(actor, query),
  );
  return router;
}
