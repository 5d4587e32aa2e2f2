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
      access: 'person',
      params: groupParams,
      body: threadInput,
      response: threadView,
    },
    async ({ caller, params, body }) => threads.create(caller, params.group, body),
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
      cache: ({ params }) => threads.groupPageScopes(params.group),
    },
    async ({ caller, params, query }) => threads.list(caller, params.group, query),
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
      cache: ({ params }) => threads.threadPageScopes(params.id),
    },
    async ({ caller, params }) => threads.get(caller, params.id),
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
      cache: ({ params }) => threads.threadPageScopes(params.id),
    },
    async ({ caller, params, query }) => threads.replies(caller, params.id, query),
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
    async ({ caller, params }) => threads.getReply(caller, params.id),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/threads/:id/replies',
      summary: 'Reply to the thread or to a reply (parentId)',
      tags,
      access: 'person',
      params: idParams,
      body: replyInput,
      response: replyView,
    },
    async ({ caller, params, body }) => threads.reply(caller, params.id, body),
  );
  api.command(
    router,
    {
      method: 'patch',
      path: '/threads/:id',
      summary: 'Edit your thread',
      tags,
      access: 'person',
      params: idParams,
      body: threadPatch,
    },
    async ({ caller, params, body }) => threads.edit(caller, 'threads', params.id, body),
  );
  api.command(
    router,
    {
      method: 'patch',
      path: '/replies/:id',
      summary: 'Edit your reply',
      tags,
      access: 'person',
      params: idParams,
      body: replyPatch,
    },
    async ({ caller, params, body }) => threads.edit(caller, 'replies', params.id, body),
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
        access: 'person',
        params: idParams,
        body: removeInput,
      },
      async ({ caller, params, body }) => threads.remove(caller, kind, params.id, body.reason),
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
          access: 'person',
          params: idParams,
          status: 200,
          response: z.object({ likeCount: z.number().int() }),
        },
        async ({ caller, params }) => threads.like(caller, kind, params.id, liked),
      );
    }
    api.route(
      router,
      {
        method: 'post',
        path: `/${kind}/:id/reports`,
        summary: `Report a ${noun} to the group's moderators`,
        tags: ['moderation'],
        access: 'person',
        params: idParams,
        body: z.object({ reason: z.string().trim().min(3).max(1000) }).strict(),
        response: z.object({ id: z.string() }),
      },
      async ({ caller, params, body }) => reports.report(caller, kind, params.id, body.reason),
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
          access: 'person',
          params: idParams,
        },
        async ({ caller, params }) => threads.setFlag(caller, params.id, flag, value),
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
      access: 'person',
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
    async ({ caller, params, query }) => reports.queue(caller, params.group, query.state),
  );
  api.command(
    router,
    {
      method: 'post',
      path: '/groups/:group/reports/:report/resolve',
      summary: 'Dismiss a report, or remove the reported post (moderators)',
      tags: ['moderation'],
      access: 'person',
      params: groupParams.extend({ report: z.string().regex(/^[0-9a-f]{24}$/, 'expected an id') }),
      body: z
        .object({ decision: z.enum(['dismiss', 'remove']), note: z.string().trim().max(1000).default('') })
        .strict(),
    },
    async ({ caller, params, body }) =>
      reports.resolve(caller, params.group, params.report, body.decision, body.note),
  );

  api.route(
    router,
    {
      method: 'post',
      path: '/posts/preview',
      summary: 'Render a post body as it would be written (mentions linked, sanitised), without writing it',
      tags,
      access: 'person',
      body: z.object({ body: z.string().max(20_000) }).strict(),
      status: 200,
      response: z.object({ html: z.string() }),
    },
    async ({ caller, body }) => threads.preview(caller, body.body),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/feed',
      summary: 'Recent threads and replies in your groups',
      tags: ['discovery'],
      access: 'person',
      query: pageQuery,
      response: feedPage,
    },
    async ({ caller, query }) => discovery.feed(caller, query),
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
    async ({ caller, query }) => discovery.search(caller, query),
  );
  return router;
}
