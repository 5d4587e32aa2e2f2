#!/usr/bin/env node
// CI: checks docker-compose.yml with a real compose implementation (Debian's docker-compose, `config`, which
// validates the file and resolves it without a Docker engine), then lints the Keycloak realm exports against
// it: JSON well-formed, one realm per node's issuer, the client and its secret, redirect and logout URIs, the
// claims the node maps, the administrator role, demo people; the proxy routes each node's name; the services
// run what the tests run. Exits 1 naming every problem. Needs `docker-compose` (scripts/install-system-deps.sh).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];
const problem = (message) => problems.push(message);

/** `docker-compose config` with no .env and none of the file's variables set: what `docker compose up` gets. */
function resolved(profiles) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/(SECRET|PASSWORD|LOG_LEVEL|^COMPOSE_|^DOCKER_)/.test(k) || k === 'PATH',
    ),
  );
  const args = [...profiles.flatMap((p) => ['--profile', p]), '-f', 'docker-compose.yml', 'config'];
  const run = spawnSync('docker-compose', args, { cwd: root, env, encoding: 'utf8' });
  if (run.error) {
    console.error(`docker-compose could not be run (${run.error.message}): apt-get install docker-compose`);
    process.exit(2);
  }
  if (run.status !== 0) {
    problem(`docker-compose ${args.join(' ')} failed:\n${run.stderr}`);
    return null;
  }
  return parse(run.stdout);
}

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
  } catch (err) {
    problem(`${file}: not well-formed JSON (${err.message})`);
    return null;
  }
};

/** The realm files Keycloak imports, from its volumes. */
function realmsOf(keycloak) {
  const realms = new Map();
  for (const volume of keycloak.volumes ?? []) {
    const source = typeof volume === 'string' ? volume.split(':')[0] : volume.source;
    const target = typeof volume === 'string' ? volume.split(':')[1] : volume.target;
    if (!target?.startsWith('/opt/keycloak/data/import/')) continue;
    const file = path.relative(root, source);
    if (!fs.existsSync(path.join(root, file))) {
      problem(`keycloak imports ${file}, which does not exist`);
      continue;
    }
    const realm = readJson(file);
    if (realm) realms.set(realm.realm, { file, realm });
  }
  return realms;
}

const claimsOf = (client) =>
  new Map(
    (client.protocolMappers ?? []).map((m) => [
      m.protocolMapper === 'oidc-full-name-mapper' ? 'name' : m.config?.['claim.name'],
      m,
    ]),
  );

function checkNode(name, service, realms, keycloakUrl, proxy, caddyfile) {
  const env = service.environment ?? {};
  const where = `service ${name}`;
  if (env.NODE_ENV !== 'production') problem(`${where}: NODE_ENV must be production (got ${env.NODE_ENV})`);
  if (service.command)
    problem(`${where}: must run the image's command (node dist/server/main.js), not its own`);
  const publicUrl = env.PUBLIC_URL;
  if (!publicUrl) return problem(`${where}: no PUBLIC_URL`);
  const host = new URL(publicUrl).hostname;
  if (!(proxy.networks?.ensemble?.aliases ?? []).includes(host))
    problem(
      `${where}: the proxy has no network alias ${host}, so the other containers cannot reach ${publicUrl}`,
    );
  const site = caddyfile
    .split(/\n(?=\S)/)
    .find((block) => block.startsWith(`${new URL(publicUrl).origin} {`));
  if (!site?.includes(`import node ${name}:3000`))
    problem(`deploy/caddy/Caddyfile: ${new URL(publicUrl).origin} must proxy to ${name}:3000 (import node)`);
  if (!/\(node\) \{[^}]*respond \/metrics 404/.test(caddyfile))
    problem('deploy/caddy/Caddyfile: the node snippet must keep /metrics off the proxy');
  if ((env.SESSION_SECRET ?? '').length < 32) problem(`${where}: SESSION_SECRET shorter than 32 characters`);
  if (!/dev-only/.test(env.SESSION_SECRET ?? '')) problem(`${where}: a default secret must say dev-only`);
  let issuers;
  try {
    issuers = JSON.parse(env.OIDC_ISSUERS);
  } catch (err) {
    return problem(`${where}: OIDC_ISSUERS is not JSON (${err.message})`);
  }
  const organizationClaim = env.OIDC_ORGANIZATION_CLAIM ?? 'organization';
  const [adminClaim, adminValue] = (env.OIDC_ADMIN_CLAIM ?? '').split('=');
  for (const issuer of issuers) {
    const m = /^(.*)\/realms\/([^/]+)$/.exec(issuer.issuer);
    if (!m) {
      problem(`${where}: issuer ${issuer.issuer} is not a Keycloak realm URL`);
      continue;
    }
    if (m[1] !== keycloakUrl)
      problem(`${where}: issuer ${issuer.issuer} is not on Keycloak's ${keycloakUrl}`);
    const found = realms.get(m[2]);
    if (!found) {
      problem(`${where}: no realm export for realm ${m[2]}`);
      continue;
    }
    const { file, realm } = found;
    if (!realm.enabled) problem(`${file}: realm ${realm.realm} is not enabled`);
    const client = (realm.clients ?? []).find((c) => c.clientId === issuer.clientId);
    if (!client) {
      problem(`${file}: no client ${issuer.clientId} (${where} signs in with it)`);
      continue;
    }
    if (client.publicClient || client.secret !== issuer.clientSecret)
      problem(`${file}: client ${client.clientId}'s secret is not the one ${where} sends`);
    if (!client.standardFlowEnabled) problem(`${file}: client ${client.clientId} needs the code flow`);
    const callback = `${publicUrl}/auth/callback/${issuer.id}`;
    if (!(client.redirectUris ?? []).includes(callback))
      problem(`${file}: client ${client.clientId} does not allow the redirect URI ${callback}`);
    const logout = (client.attributes?.['post.logout.redirect.uris'] ?? '').split('##');
    if (!logout.includes(`${publicUrl}/`))
      problem(`${file}: client ${client.clientId} does not allow the post-logout URI ${publicUrl}/`);
    const claims = claimsOf(client);
    for (const claim of [
      organizationClaim,
      'locale',
      'email',
      'email_verified',
      'preferred_username',
      'name',
    ])
      if (!claims.has(claim)) problem(`${file}: client ${client.clientId} gives no ${claim} claim`);
    for (const [claim, mapper] of claims)
      for (const token of ['id.token.claim', 'userinfo.token.claim'])
        if (claim !== 'name' && mapper.config?.[token] !== 'true')
          problem(`${file}: claim ${claim} is not in the ${token.split('.')[0]} token (${token})`);
    if (adminClaim) {
      const roles = claims.get(adminClaim);
      if (
        roles?.protocolMapper !== 'oidc-usermodel-realm-role-mapper' ||
        roles.config?.multivalued !== 'true'
      )
        problem(
          `${file}: the ${adminClaim} claim must carry the realm roles (OIDC_ADMIN_CLAIM=${env.OIDC_ADMIN_CLAIM})`,
        );
      if (!(realm.roles?.realm ?? []).some((r) => r.name === adminValue))
        problem(`${file}: no realm role ${adminValue}`);
      if (!(realm.users ?? []).some((u) => (u.realmRoles ?? []).includes(adminValue)))
        problem(`${file}: nobody has ${adminValue}: the node would have no administrator`);
    }
    const users = realm.users ?? [];
    if (users.length < 2) problem(`${file}: fewer than two demo people`);
    for (const u of users) {
      const who = `${file}: ${u.username}`;
      if (!u.enabled || !u.email || !u.emailVerified || !u.firstName || !u.lastName)
        problem(`${who}: needs enabled, email, emailVerified, firstName and lastName`);
      if (!['en', 'fr'].includes(u.attributes?.locale?.[0])) problem(`${who}: locale must be en or fr`);
      const password = (u.credentials ?? []).find((c) => c.type === 'password');
      if (!password || password.temporary || !String(password.value).startsWith('dev-only-'))
        problem(`${who}: needs a permanent dev-only-… password`);
    }
  }
}

/** Published ports must be on loopback: the trial's secrets are public. */
function checkPorts(services) {
  for (const [name, service] of Object.entries(services))
    for (const port of service.ports ?? []) {
      const ip = typeof port === 'string' ? port.split(':').length === 3 && port.split(':')[0] : port.host_ip;
      if (ip !== '127.0.0.1')
        problem(`service ${name}: publish its port on 127.0.0.1 only (got ${JSON.stringify(port)})`);
    }
}

const caddyfile = fs.readFileSync(path.join(root, 'deploy/caddy/Caddyfile'), 'utf8');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
if (!dockerfile.includes('CMD ["node", "dist/server/main.js"]'))
  problem('Dockerfile: the image must run node dist/server/main.js (the entry point the tests start)');
const testRedis = fs.readFileSync(path.join(root, 'tests/helpers/redis.ts'), 'utf8');

for (const profiles of [[], ['ferretdb']]) {
  const config = resolved(profiles);
  if (!config) continue;
  // docker-compose 1.29 lists every service; one with profiles runs only when one of them is asked for.
  const services = Object.fromEntries(
    Object.entries(config.services ?? {}).filter(
      ([, s]) => !s.profiles || s.profiles.some((p) => profiles.includes(p)),
    ),
  );
  const keycloak = services.keycloak;
  const proxy = services.proxy;
  if (!keycloak || !proxy) {
    problem('docker-compose.yml: needs the keycloak and proxy services');
    continue;
  }
  checkPorts(services);
  const keycloakUrl = keycloak.environment?.KC_HOSTNAME;
  if (!(keycloak.command ?? []).includes('--import-realm'))
    problem('keycloak must start with --import-realm');
  const realms = realmsOf(keycloak);
  // Ensemble nodes are built from the Dockerfile's app image; the `ferretdb` target is the database server.
  const nodes = Object.entries(services).filter(([, s]) => s.build && s.build.target !== 'ferretdb');
  const expected = profiles.includes('ferretdb') ? 3 : 2;
  if (nodes.length !== expected)
    problem(`profiles [${profiles}]: expected ${expected} Ensemble nodes, found ${nodes.map(([n]) => n)}`);
  for (const [name, service] of nodes) checkNode(name, service, realms, keycloakUrl, proxy, caddyfile);
  const urls = nodes.map(([, s]) => s.environment?.PUBLIC_URL);
  if (new Set(urls).size !== urls.length) problem(`two nodes share a PUBLIC_URL: ${urls}`);
  for (const [name, service] of Object.entries(services)) {
    if (!/^redis/.test(name)) continue;
    const command = service.command ?? [];
    for (const flag of ['--save', '--appendonly'])
      if (!command.includes(flag) || !testRedis.includes(`'${flag}'`))
        problem(`service ${name}: runs redis-server with ${flag} as the tests do (tests/helpers/redis.ts)`);
  }
  for (const [name, service] of Object.entries(services))
    if (/^mongo/.test(name) && !(service.command ?? []).includes('--replSet'))
      problem(`service ${name}: MongoDB must run as a replica set`);
}

const unique = [...new Set(problems)];
if (unique.length) {
  console.error(`docker-compose.yml and deploy/ have ${unique.length} problem(s):\n- ${unique.join('\n- ')}`);
  process.exit(1);
}
console.log(
  'docker-compose.yml: valid (docker-compose config, default and ferretdb profiles); realm exports consistent',
);
