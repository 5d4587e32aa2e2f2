import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { imageUpload, sendImage, sniffImage } from '../files/image.store.js';
import type { AccountService } from './account.service.js';
import { AVATAR_MAX_BYTES, type ProfileService } from './profile.service.js';
import {
  directoryPage,
  directoryQuery,
  handleParams,
  localeInput,
  meView,
  profilePatch,
  profileView,
} from './profile.schemas.js';

export function peopleRoutes(api: Api, profiles: ProfileService, accounts: AccountService): Router {
  const router = Router();
  const tags = ['people'];

  const me = async (actorUserDoc: Awaited<ReturnType<ProfileService['me']>>) => ({
    profile: await profiles.selfView(actorUserDoc),
    email: actorUserDoc.email,
    locale: actorUserDoc.locale,
    isAdmin: actorUserDoc.isAdmin,
    identities: (await accounts.identitiesOf(actorUserDoc._id)).map((i) => ({
      issuer: i.issuer,
      sub: i.sub,
    })),
  });

  api.route(
    router,
    { method: 'get', path: '/me', summary: 'The signed-in person', tags, access: 'person', response: meView },
    async ({ caller }) => me(await profiles.me(caller)),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/me/profile',
      summary: 'Edit my profile and who sees each field',
      tags,
      access: 'person',
      body: profilePatch,
      status: 200,
      response: meView,
    },
    async ({ caller, body }) => me(await profiles.update(caller, body)),
  );
  api.route(
    router,
    {
      method: 'put',
      path: '/me/locale',
      summary: 'Choose the language of the interface and of mail (kept across sign-ins)',
      tags,
      access: 'person',
      body: localeInput,
      status: 200,
      response: meView,
    },
    async ({ caller, body }) => me(await profiles.chooseLocale(caller, body.locale)),
  );
  api.route(
    router,
    {
      method: 'put',
      path: '/me/avatar',
      summary: 'Set my avatar (PNG, JPEG, WebP or GIF, 2 MiB at most)',
      tags,
      access: 'person',
      rawBody: {
        contentType: 'multipart/form-data',
        schema: z.object({ avatar: z.string().describe('binary image file') }),
      },
      before: [imageUpload('avatar', AVATAR_MAX_BYTES)],
      status: 200,
      response: meView,
    },
    async ({ caller, req }) => {
      const type = await sniffImage(req.file?.buffer, 'avatar');
      return me(await profiles.setAvatar(caller, req.file!.buffer, type));
    },
  );
  api.route(
    router,
    {
      method: 'delete',
      path: '/me/avatar',
      summary: 'Remove my avatar',
      tags,
      access: 'person',
      status: 204,
    },
    async ({ caller }) => {
      await profiles.removeAvatar(caller);
      return undefined;
    },
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/people',
      summary: 'Directory: search people by name, skill or organization; filter by skill, language or status',
      tags,
      access: 'person',
      query: directoryQuery,
      response: directoryPage,
    },
    async ({ caller, query }) => profiles.directory(caller, query),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/people/:handle',
      summary: 'A profile, with the fields this viewer may see',
      tags,
      access: 'public',
      params: handleParams,
      response: profileView,
    },
    async ({ caller, params }) => (await profiles.get(caller, params.handle)).view,
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/people/:handle/avatar',
      summary: "A person's avatar image",
      tags,
      access: 'public',
      params: handleParams,
      responseDescription: 'The image bytes',
    },
    async ({ caller, params, req, res }) => {
      await sendImage(req, res, await profiles.avatar(caller, params.handle));
      return undefined;
    },
  );

  const adminTags = ['administration'];
  const statusChanges = [
    ['deactivate', 'Deactivate a person: sessions end, sign-in refused, content kept'],
    ['reactivate', 'Reactivate a person'],
  ] as const;
  for (const [change, summary] of statusChanges) {
    api.route(
      router,
      {
        method: 'post',
        path: `/admin/people/:handle/${change}`,
        summary,
        tags: adminTags,
        access: 'admin',
        params: handleParams,
        status: 200,
        response: profileView,
      },
      async ({ caller, params }) =>
        profiles.view(caller, await accounts[change](caller, params.handle), null),
    );
  }
  api.route(
    router,
    {
      method: 'post',
      path: '/admin/people/merge',
      summary: 'Merge two accounts of one person; identities, memberships and content move to `into`',
      tags: adminTags,
      access: 'admin',
      body: z.object({ from: z.string().min(1).max(64), into: z.string().min(1).max(64) }).strict(),
      status: 200,
      response: profileView,
    },
    async ({ caller, body }) => {
      const user = await accounts.merge(caller, body.from, body.into);
      return profiles.view(caller, user, null);
    },
  );
  return router;
}
