import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Db } from 'mongodb';
import { errorHandler } from '../../server/core/problem.js';
import { collections } from '../../server/db/collections.js';
import { signRequest } from '../../server/federation/http-signature.js';
import { parseMessageSignature, verifyMessageSignature } from '../../server/federation/message-signature.js';
import {
  createPublicGroup,
  FakeServer,
  postSigned,
  signRfc9421,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;
const STORED = [collections.apStreams, collections.apObjects];

/**
 * RFC 9421 HTTP Message Signatures on the inbox (beside draft-cavage), on signed GETs, and on what the node
 * sends to a receiver that asks for them: real HTTP, real keys served by a fake peer.
 */
describe('RFC 9421 signatures: inbox, signed fetches, negotiation', () => {
  let world: World;
  let peer: FakeServer;
  let ada: FakeActor;
  let eve: FakeActor;
  let group: string;
  let inbox: string;
  let db: Db;
  let n = 0;

  const counts = async () =>
    Object.fromEntries(
      await Promise.all(STORED.map(async (c) => [c, await db.collection(c).countDocuments()])),
    );
  const note = (overrides: Record<string, unknown> = {}) => {
    n++;
    return {
      '@context': AS,
      id: `${peer.url}/activities/r${n}`,
      type: 'Create',
      actor: ada.id,
      to: [PUBLIC],
      cc: [group],
      object: {
        id: `${peer.url}/notes/r${n}`,
        type: 'Note',
        attributedTo: ada.id,
        content: `RFC 9421 note ${n}`,
        to: [PUBLIC],
        cc: [group],
      },
      ...overrides,
    };
  };
  const stored = async (id: string) =>
    !!(await db.collection(collections.apStreams).findOne({ _id: id as never }));
  /** A hostile request: 401 problem+json with Accept-Signature (the sender may sign again), nothing stored. */
  const refused = async (send: () => ReturnType<typeof postSigned>, detail: RegExp) => {
    const before = await counts();
    const res = await send();
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 401 });
    expect(res.type).toContain('application/problem+json');
    expect(JSON.parse(res.body).detail).toMatch(detail);
    expect(res.headers.get('accept-signature')).toMatch(/^sig1=\("@method" "@target-uri" "content-digest"\)/);
    expect(await counts()).toEqual(before);
  };

  beforeAll(async () => {
    peer = await new FakeServer().start();
    ada = peer.actor('ada', { ed25519: true });
    eve = peer.actor('eve');
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    db = world.node.database.db;
    await createPublicGroup(world.as.alice!, 'rfc-lab');
    group = `${world.node.url}/ap/a/g.rfc-lab`;
    inbox = `${group}/inbox`;
    // ada posts as a member: she joins the open group first (a Follow, FEP-1b12).
    const follow = {
      '@context': AS,
      id: `${peer.url}/activities/ada-joins`,
      type: 'Follow',
      actor: ada.id,
      object: group,
    };
    expect((await postSigned(inbox, follow, ada)).status).toBe(202);
  });
  afterAll(async () => {
    await world.close();
    await peer.close();
  });

  describe('the inbox', () => {
    it('accepts what Mastodon 4.5 sends (@method, @target-uri, content-digest; created, keyid)', async () => {
      const activity = note();
      const res = await postSigned(inbox, activity, ada, { rfc9421: {} });
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 202, body: '' });
      expect(await stored(activity.id)).toBe(true);
    });

    it('accepts what Fedify sends (@authority, host and date too, alg="rsa-v1_5-sha256") and the shared inbox', async () => {
      const activity = note();
      const fedify = {
        alg: 'rsa-v1_5-sha256',
        components: ['@method', '@target-uri', '@authority', 'host', 'date', 'content-digest'],
      };
      const res = await postSigned(`${world.node.url}/ap/inbox`, activity, ada, { rfc9421: fedify });
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 202 });
      expect(await stored(activity.id)).toBe(true);
    });

    it('accepts rsa-pss-sha512, and ed25519 with the actor’s Multikey; draft-cavage still works', async () => {
      expect(
        (await postSigned(inbox, note(), ada, { rfc9421: { key: 'rsa-pss', alg: 'rsa-pss-sha512' } })).status,
      ).toBe(202);
      expect((await postSigned(inbox, note(), ada, { rfc9421: { key: 'ed25519' } })).status).toBe(202);
      expect(
        (await postSigned(inbox, note(), ada, { rfc9421: { key: 'ed25519', alg: 'ed25519' } })).status,
      ).toBe(202);
      expect((await postSigned(inbox, note(), ada)).status).toBe(202);
      // The Multikey was fetched from the actor and bound to it.
      expect(
        await db.collection(collections.fedRemoteKeys).findOne({ _id: ada.ed25519!.keyId as never }),
      ).toMatchObject({ owner: ada.id });
    });

    it('refuses a Content-Digest that does not match the body, or a body changed after signing', async () => {
      await refused(
        () =>
          postSigned(inbox, note(), ada, {
            rfc9421: { contentDigest: 'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:' },
          }),
        /Content-Digest/,
      );
      await refused(
        () =>
          postSigned(inbox, note(), ada, {
            rfc9421: {},
            tamper: (b) => b.replace('RFC 9421 note', 'Forged note'),
          }),
        /Content-Digest/,
      );
    });

    it('refuses a key of another actor, a key on another origin, a signature by another key', async () => {
      // eve signs with her own key, claiming to be ada.
      await refused(() => postSigned(inbox, note(), eve, { rfc9421: {} }), /does not belong/);
      const other = await new FakeServer().start();
      try {
        const mallory = other.actor('mallory');
        await refused(
          () =>
            postSigned(
              inbox,
              note(),
              { keyId: mallory.keyId, privateKeyPem: mallory.privateKeyPem },
              { rfc9421: {} },
            ),
          /no signature is made with a key/,
        );
        expect(other.gets).toHaveLength(0);
      } finally {
        await other.close();
      }
      await refused(
        () =>
          postSigned(inbox, note(), { keyId: ada.keyId, privateKeyPem: eve.privateKeyPem }, { rfc9421: {} }),
        /does not verify/,
      );
    });

    it('refuses expired signatures and ones created outside the window', async () => {
      const hour = 3600_000;
      await refused(
        () =>
          postSigned(inbox, note(), ada, {
            rfc9421: {
              created: new Date(Date.now() - 20 * 60_000),
              expires: new Date(Date.now() - 10 * 60_000),
            },
          }),
        /expired/,
      );
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { created: new Date(Date.now() - 2 * hour) } }),
        /window/,
      );
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { created: new Date(Date.now() + 2 * hour) } }),
        /window/,
      );
    });

    it('refuses signatures missing components: content-digest, @method, the target', async () => {
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { components: ['@method', '@target-uri'] } }),
        /content-digest/,
      );
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { components: ['@target-uri', 'content-digest'] } }),
        /@method/,
      );
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { components: ['@method', 'content-digest'] } }),
        /@target-uri/,
      );
    });

    it('refuses malformed or unsupported signatures with 401, so the sender can fall back to draft-cavage', async () => {
      await refused(
        () =>
          postSigned(inbox, note(), ada, {
            rfc9421: {},
            headers: (h) => ({ ...h, 'signature-input': 'sig1=(' }),
          }),
        /dictionary/,
      );
      await refused(
        () =>
          postSigned(inbox, note(), ada, {
            rfc9421: {},
            headers: (h) => ({ ...h, signature: 'sig1=:AAAA:' }),
          }),
        /does not verify/,
      );
      await refused(
        () => postSigned(inbox, note(), ada, { rfc9421: { alg: 'hmac-sha256' } }),
        /not accepted/,
      );
      await refused(() => postSigned(inbox, note(), ada, { rfc9421: { alg: 'ed25519' } }), /does not fit/);
    });

    it('a replayed request changes nothing; replayed to another inbox it does not verify', async () => {
      const activity = note();
      const body = JSON.stringify(activity);
      const headers = signRfc9421(
        { method: 'POST', url: inbox, headers: { 'content-type': 'application/activity+json' }, body },
        ada,
      );
      delete headers.host;
      const send = (url: string) => fetch(url, { method: 'POST', headers, body });
      expect((await send(inbox)).status).toBe(202);
      const before = await counts();
      expect((await send(inbox)).status).toBe(202);
      expect(await counts()).toEqual(before);
      // The target is covered: the same bytes at the shared inbox are refused.
      const elsewhere = await send(`${world.node.url}/ap/inbox`);
      expect(elsewhere.status).toBe(401);
      expect((await elsewhere.json()) as { detail: string }).toMatchObject({
        detail: expect.stringMatching(/does not verify/),
      });
      expect(await counts()).toEqual(before);
    });
  });

  it('signed GETs: the reusable verifier takes RFC 9421 and draft-cavage, refuses the rest', async () => {
    const fed = world.node.node.federation!;
    const app = express();
    app.get('/ap/private', fed.signatures.middleware({ required: true }), (_req, res) => {
      res.json({ signer: res.locals.signer });
    });
    app.use(errorHandler({ exposeDetails: false }));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // The verifier rebuilds @target-uri from the node's public URL: serve the test route under the same origin.
    const port = (server.address() as AddressInfo).port;
    const url = `${world.node.url}/ap/private`;
    const get = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string; accept: string | undefined }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, path: '/ap/private', headers: { ...headers, host: new URL(url).host } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body,
                accept: res.headers['accept-signature'] as string | undefined,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      const rfc = await get(
        signRfc9421({ method: 'GET', url, headers: { accept: 'application/activity+json' } }, ada),
      );
      expect(rfc.status).toBe(200);
      expect(JSON.parse(rfc.body).signer).toEqual({ scheme: 'rfc9421', keyId: ada.keyId, owner: ada.id });
      const cavage = await get(
        signRequest({ method: 'GET', url, headers: { accept: 'application/activity+json' } }, ada),
      );
      expect(JSON.parse(cavage.body).signer).toMatchObject({ scheme: 'draft-cavage', owner: ada.id });
      const unsigned = await get({ accept: 'application/activity+json' });
      expect(unsigned.status).toBe(401);
      expect(unsigned.accept).toBe('sig1=("@method" "@target-uri");created;keyid');
      // A signature made for another URL, and one past its window, are refused.
      const other = await get(
        signRfc9421({ method: 'GET', url: `${world.node.url}/ap/other`, headers: {} }, ada),
      );
      expect(other.status).toBe(401);
      const old = await get(
        signRfc9421({ method: 'GET', url, headers: {} }, ada, { created: new Date(Date.now() - 7200_000) }),
      );
      expect(old.status).toBe(401);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('sends draft-cavage, and RFC 9421 to a receiver that answers 401 with Accept-Signature (then first)', async () => {
    const strict = await new FakeServer().start();
    try {
      strict.actor('rita');
      const fed = world.node.node.federation!;
      const alice = fed.directory.personIri('alice');
      const aliceKey = (
        (await (await fetch(alice, { headers: { accept: 'application/activity+json' } })).json()) as {
          publicKey: { publicKeyPem: string };
        }
      ).publicKey.publicKeyPem;
      // The receiver takes only RFC 9421 signatures that verify with alice's key, and says so.
      const verifies = (req: http.IncomingMessage, body?: Buffer) => {
        if (!req.headers['signature-input']) return false;
        const message = { method: req.method!, url: `${strict.url}${req.url}`, headers: req.headers };
        try {
          verifyMessageSignature(message, parseMessageSignature(req.headers), aliceKey, {
            maxSkewMs: 300_000,
            ...(body ? { body } : {}),
          });
          return true;
        } catch {
          return false;
        }
      };
      strict.status = (req, body) => (verifies(req, body) ? 202 : 401);
      strict.statusHeaders = (req, body): Record<string, string> =>
        verifies(req, body)
          ? {}
          : { 'accept-signature': 'sig1=("@method" "@target-uri" "content-digest");created;keyid' };
      const send = async (id: string) => {
        await fed.deliveries.enqueue(
          alice,
          JSON.stringify({ '@context': AS, id, type: 'Like', actor: alice, object: `${strict.url}/notes/1` }),
          [`${strict.url}/users/rita/inbox`],
        );
        await fed.worker.drain();
      };
      await send(`${world.node.url}/ap/s/rfc9421-1`);
      const first = strict.received.map((r) => (r.headers['signature-input'] ? 'rfc9421' : 'draft-cavage'));
      expect(first).toEqual(['draft-cavage', 'rfc9421']);
      expect(await db.collection(collections.fedDeliveries).countDocuments({ state: 'failed' })).toBe(0);
      // The host is remembered: the next activity goes signed with RFC 9421 at once.
      await send(`${world.node.url}/ap/s/rfc9421-2`);
      expect(strict.received.slice(2).map((r) => !!r.headers['signature-input'])).toEqual([true]);

      // Fetches too: a server that serves documents only to RFC 9421 signatures gets one after its 401.
      const other = await new FakeServer().start();
      try {
        other.actor('tom');
        other.authorizeGet = (req) =>
          req.headers['signature-input']
            ? null
            : {
                status: 401,
                headers: { 'accept-signature': 'sig1=("@method" "@target-uri");created;keyid' },
              };
        const doc = await fed.fetcher.getObject(`${other.url}/users/tom`);
        expect(doc.id).toBe(`${other.url}/users/tom`);
        expect(other.gets).toEqual(['/users/tom', '/users/tom']);
      } finally {
        await other.close();
      }
    } finally {
      await strict.close();
    }
  });
});
