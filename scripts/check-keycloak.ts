// Signs every demo person of deploy/keycloak/*.json in to a real Ensemble node through a real Keycloak, and
// checks what the node made of their claims (handle, name, email, language, organization, administrator).
// Not part of CI (it needs Java 17+ and downloads Keycloak, about 150 MB, from Maven Central once into
// TOOLS_DIR); run it after changing the realm exports: npx tsx scripts/check-keycloak.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../server/core/net.js';
import { projectRoot } from '../server/core/paths.js';
import { ApiClient, Browser } from '../tests/helpers/browser.js';
import { startBenchDatabase, startBenchNode } from '../bench/lib.js';

// Keycloak 25 is the last that runs on Java 17 (Debian 12's); docker-compose.yml runs 26, whose realm
// import reads the same files.
const VERSION = process.env.KEYCLOAK_VERSION ?? '25.0.6';
const tools = path.resolve(process.env.TOOLS_DIR ?? path.join(projectRoot, '.tools'));
const home = path.join(tools, `keycloak-${VERSION}`);
const log = (line: string) => process.stdout.write(`[check-keycloak] ${line}\n`);

const expected: Record<
  string,
  { realm: string; handle: string; locale: string; admin: boolean; email: string }
> = {
  alice: {
    realm: 'dsa',
    handle: 'alice',
    locale: 'en',
    admin: true,
    email: 'alice.tremblay@dsa-asn.example',
  },
  chloe: { realm: 'dsa', handle: 'chloe', locale: 'fr', admin: false, email: 'chloe.martin@dsa-asn.example' },
  bruno: { realm: 'dnr', handle: 'bruno', locale: 'fr', admin: true, email: 'bruno.cote@dnr-mrn.example' },
  dev: { realm: 'dnr', handle: 'dev', locale: 'en', admin: false, email: 'dev.patel@dnr-mrn.example' },
};
const organizations = { dsa: 'digital-services', dnr: 'natural-resources' } as const;
const hosts = {
  dsa: 'http://dsa.ensemble.localhost:8080',
  dnr: 'http://dnr.ensemble.localhost:8080',
} as const;

async function download(): Promise<void> {
  if (fs.existsSync(path.join(home, 'bin', 'kc.sh'))) return;
  const url = `https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/${VERSION}/keycloak-quarkus-dist-${VERSION}.zip`;
  log(`downloading ${url}`);
  fs.mkdirSync(tools, { recursive: true });
  const zip = path.join(tools, `keycloak-${VERSION}.zip`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  fs.writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  await new Promise<void>((resolve, reject) =>
    spawn('unzip', ['-q', '-o', zip, '-d', tools], { stdio: 'inherit' }).on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`unzip exited with ${code}`)),
    ),
  );
  fs.rmSync(zip);
}

const problems: string[] = [];
await download();
const [kcPort, managementPort, nodePort] = [await freePort(), await freePort(), await freePort()];
const nodeUrl = `http://127.0.0.1:${nodePort}`;
const kcUrl = `http://127.0.0.1:${kcPort}`;
// A fresh Keycloak each run: its development database is wiped, the realms imported with the node's address
// (a process here cannot resolve *.ensemble.localhost).
fs.rmSync(path.join(home, 'data'), { recursive: true, force: true });
fs.mkdirSync(path.join(home, 'data', 'import'), { recursive: true });
for (const realm of ['dsa', 'dnr'] as const)
  fs.writeFileSync(
    path.join(home, 'data', 'import', `${realm}-realm.json`),
    fs
      .readFileSync(path.join(projectRoot, 'deploy', 'keycloak', `${realm}-realm.json`), 'utf8')
      .replaceAll(hosts[realm], nodeUrl),
  );
const keycloak = spawn(
  path.join(home, 'bin', 'kc.sh'),
  [
    'start-dev',
    '--import-realm',
    `--http-port=${kcPort}`,
    `--http-management-port=${managementPort}`,
    `--hostname=${kcUrl}`,
  ],
  {
    env: {
      ...process.env,
      KEYCLOAK_ADMIN: 'admin',
      KEYCLOAK_ADMIN_PASSWORD: 'dev-only-admin',
      JAVA_OPTS_APPEND: '-Xmx512m',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const stops: (() => Promise<unknown>)[] = [];
try {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const up = await fetch(`${kcUrl}/realms/dnr/.well-known/openid-configuration`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (keycloak.exitCode !== null || Date.now() > deadline) throw new Error('Keycloak did not start');
    await new Promise((r) => setTimeout(r, 1000));
  }
  log(`Keycloak ${VERSION} at ${kcUrl} imported both realms`);
  const { uri, database, close } = await startBenchDatabase('keycloak');
  stops.push(close);
  const node = await startBenchNode(uri, database, {
    port: nodePort,
    issuers: (['dsa', 'dnr'] as const).map((realm) => ({
      id: realm,
      name: { en: realm, fr: realm },
      issuer: `${kcUrl}/realms/${realm}`,
      clientId: 'ensemble',
      clientSecret: `dev-only-${realm}-client-secret`,
      scope: 'openid profile email',
    })),
    // As docker-compose.yml configures the nodes.
    env: { OIDC_ADMIN_CLAIM: 'roles=ensemble-admin', OIDC_ORGANIZATION_CLAIM: 'organization' },
  });
  stops.push(node.close);
  for (const [realm, slug] of Object.entries(organizations))
    await node.node.services.organizations.create(
      { kind: 'system', reason: 'check-keycloak' },
      {
        slug,
        name: { en: slug, fr: slug },
        acronym: { en: realm, fr: realm },
        emailDomains: [],
        claimValues: [slug],
      },
    );
  for (const [username, want] of Object.entries(expected)) {
    const browser = new Browser();
    const { res, url } = await browser.navigate(`${nodeUrl}/auth/login/${want.realm}`);
    const html = await res.text();
    const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) {
      problems.push(`${username}: no Keycloak sign-in form at ${url} (${res.status})`);
      continue;
    }
    await browser.navigate(action.replace(/&amp;/g, '&'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password: `dev-only-${username}`, credentialId: '' }).toString(),
    });
    const me = await new ApiClient(browser, nodeUrl).call('GET', '/me');
    const got = {
      handle: me.body.profile?.handle,
      locale: me.body.locale,
      admin: me.body.isAdmin,
      email: me.body.email,
      organization: me.body.profile?.organization?.slug,
    };
    const wanted = {
      handle: want.handle,
      locale: want.locale,
      admin: want.admin,
      email: want.email,
      organization: organizations[want.realm as 'dsa' | 'dnr'],
    };
    if (me.status !== 200 || JSON.stringify(got) !== JSON.stringify(wanted))
      problems.push(
        `${username}: /me ${me.status} ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`,
      );
    else log(`${username} (${want.realm}): ${JSON.stringify(got)}`);
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  const exited = new Promise((r) => keycloak.once('exit', r));
  keycloak.kill('SIGTERM');
  await exited;
}
if (problems.length) {
  process.stderr.write(`[check-keycloak] ${problems.length} problem(s):\n- ${problems.join('\n- ')}\n`);
  process.exit(1);
}
log('every demo person signs in with the claims Ensemble maps');
process.exit(0);
