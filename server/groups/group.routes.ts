import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { imageUpload, sendImage, sniffImage } from '../files/image.store.js';
import { roles } from './group.policy.js';
import {
  groupInput,
  groupListQuery,
  groupMemberParams,
  groupPage,
  groupParams,
  groupPatch,
  groupView,
} from './group.schemas.js';
import type { GroupService } from './group.service.js';
import type { MembershipService } from './membership.service.js';

const memberView = z.object({
  id: z.string().describe('The person’s id, as `userId` in member events'),
  handle: z.string(),
  displayName: z.string(),
  role: z.enum(roles),
  state: z.enum(['active', 'requested', 'invited', 'banned']),
  since: z.string(),
  node: z.string().nullable().describe('The node of a person of another node (null: this node)'),
  organization: z.string().nullable().describe('Their organization, as their node names it'),
});

const personRef = z.object({ handle: z.string(), displayName: z.string() });

export function groupRoutes(api: Api, groups: GroupService, memberships: MembershipService): Router {
  const router = Router();
  const tags = ['groups'];
  const mtags = ['memberships'];

  api.route(
    router,
    {
      method: 'post',
      path: '/groups',
      summary: 'Create a group (you become its owner)',
      tags,
      access: 'person',
      body: groupInput,
      response: groupView,
    },
    async ({ caller, body }) => groups.create(caller, body),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/groups',
      summary: 'Groups you may see (scope=all) or belong to (scope=mine), searchable',
      tags,
      access: 'public',
      query: groupListQuery,
      response: groupPage,
    },
    async ({ caller, query }) => groups.views.list(caller, query),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group',
      summary: 'A group, with what you may do in it',
      tags,
      access: 'public',
      params: groupParams,
      response: groupView,
      cache: ({ params }) => groups.views.pageScopes(params.group),
    },
    async ({ caller, params }) => groups.views.get(caller, params.group),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/groups/:group',
      summary: 'Change settings (admins)',
      tags,
      access: 'person',
      params: groupParams,
      body: groupPatch,
      response: groupView,
    },
    async ({ caller, params, body }) => groups.update(caller, params.group, body),
  );
  api.command(
    router,
    {
      method: 'delete',
      path: '/groups/:group',
      summary: 'Delete (restorable during the retention period)',
      tags,
      access: 'person',
      params: groupParams,
    },
    async ({ caller, params }) => {
      await groups.remove(caller, params.group);
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/restore',
      summary: 'Restore a deleted group (owner or instance administrator)',
      tags,
      access: 'person',
      params: groupParams,
      status: 200,
      response: groupView,
    },
    async ({ caller, params }) => groups.restore(caller, params.group),
  );

  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group/members',
      summary: 'Members (state=active), or join requests (moderators), invitations and bans (admins)',
      tags: mtags,
      access: 'public',
      params: groupParams,
      query: z.object({
        state: z.enum(['active', 'requested', 'invited', 'banned']).default('active'),
        cursor: z.string().max(24).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(50),
      }),
      response: z.object({ items: z.array(memberView), nextCursor: z.string().nullable() }),
    },
    async ({ caller, params, query }) => memberships.views.members(caller, params.group, query),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/join',
      summary: 'Join an open group (one hosted on another node is asked: pending until it accepts)',
      tags: mtags,
      access: 'person',
      params: groupParams,
      status: 200,
      response: z.object({ welcomeMessage: z.string().nullable(), pending: z.boolean() }),
    },
    async ({ caller, params }) => memberships.join(caller, params.group),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/requests',
      summary: 'Ask to join a group that approves members',
      tags: mtags,
      access: 'person',
      params: groupParams,
      status: 202,
    },
    async ({ caller, params }) => {
      await memberships.request(caller, params.group);
      return undefined;
    },
  );
  for (const [decision, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    api.command(
      router,
      {
        method: 'post',
        path: `/groups/:group/requests/:person/${decision}`,
        summary: `${decision === 'approve' ? 'Approve' : 'Deny'} a join request (moderators and up)`,
        tags: mtags,
        access: 'person',
        params: groupMemberParams,
      },
      async ({ caller, params }) => {
        await memberships.decide(caller, params.group, params.person, approve);
      },
    );
  }
  api.command(
    router,
    {
      method: 'post',
      path: '/groups/:group/invitations',
      summary: 'Invite a person, or an email address not signed in yet (admins)',
      tags: mtags,
      access: 'person',
      params: groupParams,
      body: z
        .object({
          person: z
            .string()
            .min(1)
            .max(255)
            .optional()
            .describe('A handle, or name@host for a person of another node'),
          email: z.email().max(254).optional(),
        })
        .strict()
        .refine((b) => Boolean(b.person) !== Boolean(b.email), {
          message: 'give either person or email',
          path: ['person'],
        }),
    },
    async ({ caller, params, body }) => {
      await memberships.invite(caller, params.group, body);
    },
  );
  for (const [answer, accept] of [
    ['accept', true],
    ['decline', false],
  ] as const) {
    api.command(
      router,
      {
        method: 'post',
        path: `/groups/:group/invitation/${answer}`,
        summary: `${answer === 'accept' ? 'Accept' : 'Decline'} your invitation`,
        tags: mtags,
        access: 'person',
        params: groupParams,
      },
      async ({ caller, params }) => {
        await memberships.respond(caller, params.group, accept);
      },
    );
  }
  api.command(
    router,
    {
      method: 'post',
      path: '/groups/:group/leave',
      summary: 'Leave a group (the owner transfers ownership first)',
      tags: mtags,
      access: 'person',
      params: groupParams,
    },
    async ({ caller, params }) => {
      await memberships.leave(caller, params.group);
    },
  );
  api.command(
    router,
    {
      method: 'delete',
      path: '/groups/:group/members/:person',
      summary: 'Remove a member (admins)',
      tags: mtags,
      access: 'person',
      params: groupMemberParams,
    },
    async ({ caller, params }) => {
      await memberships.removeMember(caller, params.group, params.person);
    },
  );
  api.command(
    router,
    {
      method: 'put',
      path: '/groups/:group/bans/:person',
      summary: 'Ban a person from the group (admins)',
      tags: mtags,
      access: 'person',
      params: groupMemberParams,
      body: z.object({ reason: z.string().trim().max(500).default('') }).strict(),
    },
    async ({ caller, params, body }) => {
      await memberships.ban(caller, params.group, params.person, body.reason);
    },
  );
  api.command(
    router,
    {
      method: 'delete',
      path: '/groups/:group/bans/:person',
      summary: 'Lift a ban (admins)',
      tags: mtags,
      access: 'person',
      params: groupMemberParams,
    },
    async ({ caller, params }) => {
      await memberships.unban(caller, params.group, params.person);
    },
  );
  api.command(
    router,
    {
      method: 'put',
      path: '/groups/:group/members/:person/role',
      summary: 'Set a role: member or moderator (admins), admin (owner)',
      tags: mtags,
      access: 'person',
      params: groupMemberParams,
      body: z.object({ role: z.enum(['admin', 'moderator', 'member']) }).strict(),
    },
    async ({ caller, params, body }) => {
      await memberships.setRole(caller, params.group, params.person, body.role);
    },
  );
  api.command(
    router,
    {
      method: 'post',
      path: '/groups/:group/transfer',
      summary: 'Transfer ownership to another member (owner)',
      tags: mtags,
      access: 'person',
      params: groupParams,
      body: z.object({ to: z.string().min(1).max(64) }).strict(),
    },
    async ({ caller, params, body }) => {
      await memberships.transferOwnership(caller, params.group, body.to);
    },
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group/audit',
      summary: 'Moderation and administration log (admins)',
      tags,
      access: 'person',
      params: groupParams,
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      response: z.array(
        z.object({
          at: z.string(),
          action: z.string(),
          actorId: z.string().nullable(),
          targetUserId: z.string().nullable(),
          actor: personRef.nullable().describe('Who acted (null: the node itself)'),
          target: personRef.nullable().describe('Whom the action was about, if anyone'),
          detail: z.record(z.string(), z.unknown()),
        }),
      ),
    },
    async ({ caller, params, query }) => memberships.views.auditLog(caller, params.group, query.limit),
  );
  for (const [kind, maxBytes] of [
    ['avatar', 2 * 1024 * 1024],
    ['banner', 5 * 1024 * 1024],
  ] as const) {
    api.route(
      router,
      {
        method: 'put',
        path: `/groups/:group/${kind}`,
        summary: `Set the group's ${kind} (admins; PNG, JPEG, WebP or GIF, ${maxBytes / 1024 / 1024} MiB at most)`,
        tags,
        access: 'person',
        params: groupParams,
        rawBody: {
          contentType: 'multipart/form-data',
          schema: z.object({ [kind]: z.string().describe('binary image file') }),
        },
        before: [imageUpload(kind, maxBytes)],
        status: 200,
        response: groupView,
      },
      async ({ caller, params, req }) => {
        const type = await sniffImage(req.file?.buffer, kind);
        return groups.setImage(caller, params.group, kind, { bytes: req.file!.buffer, type });
      },
    );
    api.route(
      router,
      {
        method: 'delete',
        path: `/groups/:group/${kind}`,
        summary: `Remove the group's ${kind} (admins)`,
        tags,
        access: 'person',
        params: groupParams,
        status: 200,
        response: groupView,
      },
      async ({ caller, params }) => groups.setImage(caller, params.group, kind, null),
    );
    api.route(
      router,
      {
        method: 'get',
        path: `/groups/:group/${kind}`,
        summary: `The group's ${kind} image`,
        tags,
        access: 'public',
        params: groupParams,
        responseDescription: 'The image bytes',
      },
      async ({ caller, params, req, res }) => {
        await sendImage(req, res, await groups.views.image(caller, params.group, kind));
        return undefined;
      },
    );
  }
  api.route(
    router,
    {
      method: 'get',
      path: '/people/:handle/memberships',
      summary: "A person's groups (those you may see)",
      tags: mtags,
      access: 'public',
      params: z.object({ handle: z.string().min(1).max(64) }),
      response: z.array(
        z.object({
          group: z.string(),
          name: z.string(),
          names: z.object({ en: z.string().optional(), fr: z.string().optional() }),
          role: z.enum(roles),
        }),
      ),
    },
    async ({ caller, params }) => memberships.views.of(caller, params.handle),
  );
  return router;
}
