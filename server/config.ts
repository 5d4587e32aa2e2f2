import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { demoDepartmentSlugs } from './auth/demo.cast.js';
import { projectRoot } from './core/paths.js';
import { FEDERATION_DOMAIN } from './federation/federation.policy.js';

/**
 * Every environment variable Ensemble reads, in one schema. Parsed once at boot by `loadConfig`;
 * nothing else in the server reads `process.env`. docs/configuration.md and .env.example list the
 * same variables (a test keeps the three in step).
 */

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce
  .number({ message: 'expected a port number' })
  .int('expected a whole number')
  .min(0, 'expected a port between 0 and 65535')
  .max(65535, 'expected a port between 0 and 65535');

const byteSize = z
  .string()
  .regex(/^\d+(b|kb|mb)$/i, 'expected a size such as 100kb or 1mb')
  .transform((v) => v.toLowerCase());

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
/** A storage size in bytes: 0, 500kb, 100mb, 1gb, 2tb (binary units). */
const storageSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i, 'expected a size such as 0, 100mb or 1gb')
  .transform((v) => {
    const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v)!;
    return Math.floor(Number(amount) * UNITS[(unit || 'b').toLowerCase()]!);
  });

/** A comma-separated list, each item trimmed (and lower-cased unless `keepCase`), empty items dropped. */
const commaList = <T extends z.ZodType<unknown, string>>(item: T, keepCase = false) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((t) => (keepCase ? t.trim() : t.trim().toLowerCase()))
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** A comma-separated list of media types (`image/png`) or families (`image/*`). */
const mediaTypes = commaList(
  z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/, 'expected media types such as image/png or image/*'),
);

/** What file-type names executables; refused unless the node lists them in FILE_ALLOWED_TYPES. */
export const DEFAULT_DENIED_TYPES = [
  'application/x-msdownload',
  'application/x-dosexec',
  'application/vnd.microsoft.portable-executable',
  'application/x-msi',
  'application/x-elf',
  'application/x-executable',
  'application/x-sharedlib',
  'application/x-mach-binary',
  'application/x-apple-diskimage',
  'application/java-archive',
].join(',');

const absoluteOrRelativePath = z
  .string()
  .min(1, 'expected a path')
  .transform((p) => path.resolve(projectRoot, p));

const mongoUri = z
  .string()
  .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'expected a mongodb:// or mongodb+srv:// connection string');

const httpUrl = z
  .url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' })
  .transform((u) => u.replace(/\/+$/, ''));

/** Trust-proxy: false, true, a hop count, or a comma-separated list of addresses/subnets (Express syntax). */
const trustProxy = z
  .string()
  .min(1)
  .transform((v): boolean | number | string => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    if (/^\d+$/.test(v)) return Number(v);
    return v;
  });

const issuerSchema = z.object({
  /** Short id used in URLs (/auth/login/<id>). */
  id: z.string().regex(/^[a-z0-9-]{1,32}$/, 'id: expected 1-32 lower-case letters, digits or -'),
  /** Label on the sign-in page, in English and French. */
  name: z.object({ en: z.string().min(1).max(100), fr: z.string().min(1).max(100) }),
  issuer: z.url({ protocol: /^https?$/, message: 'issuer: expected an http(s) URL' }),
  clientId: z.string().min(1, 'clientId: required'),
  clientSecret: z.string().min(1, 'clientSecret: required'),
  scope: z.string().default('openid profile email'),
});
export type IssuerConfig = z.infer<typeof issuerSchema>;

const jsonArray = <T extends z.ZodType>(item: T, what: string) =>
  z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a JSON array of ${what}` });
        return z.NEVER;
      }
    })
    .pipe(z.array(item, { message: `expected a JSON array of ${what}` }));

/** Comma-separated domain names (lower-cased); a leading `*.` covers every subdomain. */
const domainList = commaList(
  z.string().regex(FEDERATION_DOMAIN, 'expected domain names such as dept.gc.ca or *.gc.ca'),
);

/** Comma-separated address ranges (10.0.0.0/8, ::1/128). */
const cidrList = commaList(
  z.string().refine((c) => {
    try {
      ipaddr.parseCIDR(c);
      return true;
    } catch {
      return false;
    }
  }, 'expected address ranges such as 10.0.0.0/8 or 127.0.0.1/32'),
  true,
);

/** `issuer|sub` pairs, comma separated: who is an instance administrator. */
const adminIdentities = commaList(
  z
    .string()
    .regex(/^https?:\/\/[^|\s]+\|[^|\s]+$/, 'expected comma-separated issuer|sub pairs')
    .transform((pair) => {
      const [issuer, sub] = pair.split('|') as [string, string];
      return { issuer, sub };
    }),
  true,
);

const envObject = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], { message: 'expected development, production or test' })
    .default('development'),
  HOST: z.string().min(1, 'expected a host name or address').default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: httpUrl.optional(),
  TRUST_PROXY: trustProxy.default(false),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'expected one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_PRETTY: booleanFromString.optional(),
  JSON_BODY_LIMIT: byteSize.default('1mb'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int()
    .min(0)
    .max(600_000)
    .default(10_000),
  SHUTDOWN_DRAIN_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int()
    .min(0)
    .max(120_000)
    .optional(),
  MONGODB_URI: mongoUri.optional(),
  MONGODB_DB_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'expected 1-63 letters, digits, _ or -')
    .default('ensemble'),
  DATA_DIR: absoluteOrRelativePath.default(path.join(projectRoot, 'data')),
  TOOLS_DIR: absoluteOrRelativePath.default(path.join(projectRoot, '.tools')),
  FERRETDB_BIN: absoluteOrRelativePath.optional(),
  MONGOMS_SYSTEM_BINARY: absoluteOrRelativePath.optional(),
  EMBEDDED_DB_ALLOW_DOWNLOAD: booleanFromString.default(true),
  OIDC_ISSUERS: jsonArray(
    issuerSchema,
    'issuers ({id, name: {en, fr}, issuer, clientId, clientSecret})',
  ).optional(),
  OIDC_ORGANIZATION_CLAIM: z.string().min(1).max(100).default('organization'),
  OIDC_ADMIN_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+=[^=\s]+$/, 'expected claim=value, e.g. roles=ensemble-admin')
    .optional(),
  INSTANCE_ADMINS: adminIdentities.optional(),
  DEV_IDP: booleanFromString.optional(),
  DEMO_DEPARTMENT: z
    .enum(demoDepartmentSlugs, { message: `expected one of ${demoDepartmentSlugs.join(', ')}` })
    .optional(),
  SESSION_SECRET: z.string().min(32, 'expected at least 32 characters of random text').optional(),
  SESSION_MAX_AGE_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(12),
  AUTH_RATE_LIMIT: z.coerce.number().int().min(1).max(10_000).default(30),
  GROUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  JOBS_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected redis://host:6379 or rediss://user:password@host:6380')
    .optional(),
  REALTIME_MAX_ROOMS: z.coerce.number().int().min(1).max(10_000).default(100),
  PAGE_CACHE: z.enum(['on', 'off']).default('on'),
  PAGE_CACHE_SIZE: storageSize.default(64 * 1024 ** 2),
  RECORD_CACHE: z.enum(['on', 'off']).default('on'),
  RECORD_CACHE_SIZE: storageSize.default(32 * 1024 ** 2),
  SESSION_CACHE: z.enum(['on', 'off']).default('on'),
  SESSION_CACHE_SIZE: storageSize.default(16 * 1024 ** 2),
  FILE_MAX_SIZE: storageSize.default(1024 ** 3),
  FILE_MAX_COUNT: z.coerce.number().int().min(1).max(100).default(20),
  FILE_MAX_FIELDS: z.coerce.number().int().min(1).max(100).default(10),
  FILE_MAX_FIELD_SIZE: storageSize.default(64 * 1024),
  FILE_ALLOWED_TYPES: mediaTypes.default([]),
  FILE_DENIED_TYPES: mediaTypes.default(DEFAULT_DENIED_TYPES.split(',')),
  GROUP_STORAGE_QUOTA: storageSize.default(10 * 1024 ** 3),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/\S+$/, 'expected smtp://user:pass@host:587 or smtps://user:pass@host:465')
    .optional(),
  MAIL_FROM: z.string().min(3).max(200).optional(),
  DEV_MAIL_CATCHER: booleanFromString.optional(),
  NODE_NAME: z.string().trim().min(1).max(100).optional(),
  NODE_DESCRIPTION: z.string().trim().max(1000).optional(),
  NODE_CONTACT_EMAIL: z.email({ message: 'expected an email address' }).max(200).optional(),
  NODE_DEFAULT_LANGUAGE: z.enum(['en', 'fr'], { message: 'expected en or fr' }).default('en'),
  METRICS_ENABLED: booleanFromString.default(true),
  METRICS_TOKEN: z
    .string()
    .min(32, 'expected at least 32 characters of random text')
    .regex(/^[\x21-\x7e]+$/, 'expected printable characters without spaces')
    .optional(),
  METRICS_ALLOWED_NETWORKS: cidrList.optional(),
  FEDERATION_ENABLED: booleanFromString.default(true),
  FEDERATION_MODE: z
    .enum(['open', 'blocklist', 'allowlist'], { message: 'expected open, blocklist or allowlist' })
    .default('open'),
  FEDERATION_DOMAINS: domainList.default([]),
  FEDERATION_ALLOWED_CIDRS: cidrList.default([]),
  FEDERATION_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  FEDERATION_FETCH_MAX_SIZE: storageSize.default(1024 ** 2),
  FEDERATION_INBOX_MAX_SIZE: storageSize.default(1024 ** 2),
  FEDERATION_INBOX_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(600),
  FEDERATION_UNSIGNED_INBOX: booleanFromString.default(false),
  FEDERATION_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  FEDERATION_DELIVERY_PER_HOST: z.coerce.number().int().min(1).max(100).default(4),
  FEDERATION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  FEDERATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(14),
  FEDERATION_DELIVERY_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
});

export const configSchema = envObject.superRefine((cfg, ctx) => {
  if (cfg.NODE_ENV === 'production') {
    if (cfg.DEV_IDP) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_IDP'],
        message: 'cannot be enabled in production (it signs anyone in as a demo person)',
      });
    }
    if (cfg.FEDERATION_UNSIGNED_INBOX) {
      ctx.addIssue({
        code: 'custom',
        path: ['FEDERATION_UNSIGNED_INBOX'],
        message: 'cannot be enabled in production (it believes the actor named in an unsigned body)',
      });
    }
    if (cfg.DEV_MAIL_CATCHER) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_MAIL_CATCHER'],
        message: 'cannot be enabled in production',
      });
    }
    if (
      cfg.PUBLIC_URL?.startsWith('http://') &&
      // Names under .localhost are this machine's (RFC 6761): the two-department trial of docker-compose.yml.
      !/^http:\/\/(localhost|127\.0\.0\.1|([a-z0-9-]+\.)+localhost)(:\d+)?$/.test(cfg.PUBLIC_URL)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_URL'],
        message: 'must be https:// in production (plain http only for localhost and *.localhost trials)',
      });
    }
    if (!cfg.SESSION_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['SESSION_SECRET'], message: 'is required in production' });
    }
    if (!cfg.OIDC_ISSUERS?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_ISSUERS'],
        message: 'is required in production (at least one identity provider)',
      });
    }
    if (!cfg.MONGODB_URI) {
      ctx.addIssue({
        code: 'custom',
        path: ['MONGODB_URI'],
        message: 'is required in production (the embedded database is for development and tests only)',
      });
    }
    if (!cfg.PUBLIC_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_URL'],
        message: 'is required in production (the https:// address people and other nodes use)',
      });
    }
  }
});

type ParsedEnv = z.infer<typeof configSchema>;

export interface Config {
  env: ParsedEnv['NODE_ENV'];
  isProduction: boolean;
  host: string;
  port: number;
  /** Origin people and peers reach this node at, without a trailing slash. */
  publicUrl: string;
  trustProxy: boolean | number | string;
  log: { level: ParsedEnv['LOG_LEVEL']; pretty: boolean };
  http: {
    jsonBodyLimit: string;
    shutdownTimeoutMs: number;
    /** At shutdown, how long /readyz answers 503 while requests are still served (load balancers drain). */
    shutdownDrainMs: number;
  };
  auth: {
    issuers: IssuerConfig[];
    /** Mount the development identity provider (never in production). */
    devIdp: boolean;
    /** The development provider signs in this demo department's people only (all when unset). */
    demoDepartment: string | undefined;
    organizationClaim: string;
    adminClaim: { name: string; value: string } | undefined;
    admins: { issuer: string; sub: string }[];
    sessionSecret: string;
    sessionMaxAgeMs: number;
    rateLimitPer15Min: number;
    /** Cookies carry Secure when the node is reached over https. */
    secureCookies: boolean;
  };
  groups: {
    /** How long a deleted group (or file) can be restored. */
    retentionMs: number;
  };
  jobs: {
    /** How long a process holds a job it claimed; a crashed process's job is taken over after it. */
    leaseMs: number;
  };
  /** Redis for Socket.IO between processes; one process needs none. */
  redisUrl: string | undefined;
  realtime: {
    /** Group and thread rooms one connection may follow at once. */
    maxRoomsPerSocket: number;
  };
  /** Pages kept in each process (docs/adr/0027-page-cache.md). */
  pageCache: { enabled: boolean; maxBytes: number };
  /** Records pages are built from, kept in each process (docs/adr/0034-record-cache.md). */
  recordCache: { enabled: boolean; maxBytes: number };
  /** Signed-in sessions kept in each process (docs/adr/0038-kept-sessions.md). */
  sessionCache: { enabled: boolean; maxBytes: number };
  files: {
    maxFileBytes: number;
    maxFiles: number;
    maxFields: number;
    maxFieldBytes: number;
    /** Media types or families accepted (empty: all not denied). */
    allowedTypes: string[];
    deniedTypes: string[];
    /** Bytes a group may keep, every version counted (0: no limit). */
    groupQuotaBytes: number;
  };
  mail: {
    smtpUrl: string | undefined;
    from: string;
    /** Development: an embedded SMTP server keeps outgoing mail, shown at /dev/mail. */
    devCatcher: boolean;
  };
  /**
   * How the node presents itself: the defaults of the node settings, which administrators change at run
   * time (server/settings, docs/operations.md "Node settings").
   */
  node: {
    name: string;
    description: string;
    contactEmail: string | null;
    defaultLanguage: 'en' | 'fr';
  };
  /** The Prometheus endpoint `/metrics` (docs/operations.md, "Metrics"). */
  metrics: {
    enabled: boolean;
    /** A scrape must carry `Authorization: Bearer <token>`. */
    token: string | undefined;
    /** A scrape must come from one of these ranges (the client address as TRUST_PROXY resolves it). */
    allowedNetworks: string[] | undefined;
  };
  federation: {
    enabled: boolean;
    mode: 'open' | 'blocklist' | 'allowlist';
    /** The blocklist or allowlist (unused in open mode). */
    domains: string[];
    /** Private or loopback ranges outbound requests may reach anyway (tests, a local demo). */
    allowedCidrs: string[];
    fetchTimeoutMs: number;
    fetchMaxBytes: number;
    inboxMaxBytes: number;
    /** Inbox requests per minute from one remote host. */
    inboxRatePerMinute: number;
    /** Development only: accept unsigned inbox posts and believe their actor. */
    unsignedInbox: boolean;
    delivery: {
      concurrency: number;
      perHost: number;
      retryBaseMs: number;
      maxAttempts: number;
      /** How long a claimed delivery is held before another worker may take it (a crashed worker's). */
      leaseMs: number;
    };
  };
  database: {
    uri: string | undefined;
    name: string;
    dataDir: string;
    toolsDir: string;
    ferretdbBin: string | undefined;
    mongodSystemBinary: string | undefined;
    allowDownload: boolean;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string; received?: string }[]) {
    super(
      'Invalid configuration:\n' +
        problems
          .map(
            (p) =>
              `  - ${p.variable}: ${p.message}${p.received === undefined ? '' : ` (got "${p.received}")`}`,
          )
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Keys of the schema: the complete list of variables Ensemble reads. */
export const configVariables = Object.keys(envObject.shape) as (keyof ParsedEnv)[];

function displayValue(variable: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // Never echo secrets back: a connection string can hold a password, issuers hold client secrets.
  if (variable === 'MONGODB_URI') return value.replace(/\/\/[^@/]*@/, '//***@');
  if (
    variable === 'SESSION_SECRET' ||
    variable === 'METRICS_TOKEN' ||
    variable === 'OIDC_ISSUERS' ||
    variable === 'SMTP_URL' ||
    variable === 'REDIS_URL'
  )
    return '[hidden]';
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

/**
 * Only the database variables (`MONGODB_URI`, `MONGODB_DB_NAME`), for tools that need nothing else, such as
 * the backup command (server/ops/backup.cli.ts). Throws ConfigError as loadConfig does.
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): {
  uri: string | undefined;
  name: string;
} {
  const schema = envObject.pick({ MONGODB_URI: true, MONGODB_DB_NAME: true });
  const input = {
    MONGODB_URI: env.MONGODB_URI || undefined,
    MONGODB_DB_NAME: env.MONGODB_DB_NAME || undefined,
  };
  const result = schema.safeParse(input);
  if (!result.success)
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? 'configuration');
        return {
          variable,
          message: issue.message,
          received: displayValue(variable, input[variable as keyof typeof input]),
        };
      }),
    );
  return { uri: result.data.MONGODB_URI, name: result.data.MONGODB_DB_NAME };
}

/** Parse and validate the environment. Throws ConfigError naming every invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of configVariables) {
    const value = env[key];
    // An empty value means "not set", as in most dotenv tooling.
    input[key] = value === undefined || value === '' ? undefined : value;
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? 'configuration');
        return { variable, message: issue.message, received: displayValue(variable, input[variable]) };
      }),
    );
  }
  const c = result.data;
  const publicHost = c.HOST === '0.0.0.0' || c.HOST === '::' ? 'localhost' : c.HOST;
  const publicUrl = c.PUBLIC_URL ?? `http://${publicHost}:${c.PORT}`;
  return {
    env: c.NODE_ENV,
    isProduction: c.NODE_ENV === 'production',
    host: c.HOST,
    port: c.PORT,
    publicUrl,
    trustProxy: c.TRUST_PROXY,
    log: { level: c.LOG_LEVEL, pretty: c.LOG_PRETTY ?? c.NODE_ENV === 'development' },
    http: {
      jsonBodyLimit: c.JSON_BODY_LIMIT,
      shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
      shutdownDrainMs: c.SHUTDOWN_DRAIN_MS ?? (c.NODE_ENV === 'production' ? 5000 : 0),
    },
    auth: {
      issuers: c.OIDC_ISSUERS ?? [],
      devIdp: c.DEV_IDP ?? (c.NODE_ENV !== 'production' && !c.OIDC_ISSUERS?.length),
      demoDepartment: c.DEMO_DEPARTMENT,
      organizationClaim: c.OIDC_ORGANIZATION_CLAIM,
      adminClaim: c.OIDC_ADMIN_CLAIM
        ? {
            name: c.OIDC_ADMIN_CLAIM.slice(0, c.OIDC_ADMIN_CLAIM.indexOf('=')),
            value: c.OIDC_ADMIN_CLAIM.slice(c.OIDC_ADMIN_CLAIM.indexOf('=') + 1),
          }
        : undefined,
      admins: c.INSTANCE_ADMINS ?? [],
      // Development and tests only: production requires SESSION_SECRET (see the refinement above).
      sessionSecret: c.SESSION_SECRET ?? 'development-only-session-secret-not-for-production',
      sessionMaxAgeMs: c.SESSION_MAX_AGE_HOURS * 3600_000,
      rateLimitPer15Min: c.AUTH_RATE_LIMIT,
      secureCookies: publicUrl.startsWith('https://'),
    },
    groups: { retentionMs: c.GROUP_RETENTION_DAYS * 86_400_000 },
    jobs: { leaseMs: c.JOBS_LEASE_MS },
    redisUrl: c.REDIS_URL,
    realtime: { maxRoomsPerSocket: c.REALTIME_MAX_ROOMS },
    pageCache: { enabled: c.PAGE_CACHE === 'on', maxBytes: c.PAGE_CACHE_SIZE },
    recordCache: { enabled: c.RECORD_CACHE === 'on', maxBytes: c.RECORD_CACHE_SIZE },
    sessionCache: { enabled: c.SESSION_CACHE === 'on', maxBytes: c.SESSION_CACHE_SIZE },
    files: {
      maxFileBytes: c.FILE_MAX_SIZE,
      maxFiles: c.FILE_MAX_COUNT,
      maxFields: c.FILE_MAX_FIELDS,
      maxFieldBytes: c.FILE_MAX_FIELD_SIZE,
      allowedTypes: c.FILE_ALLOWED_TYPES,
      deniedTypes: c.FILE_DENIED_TYPES,
      groupQuotaBytes: c.GROUP_STORAGE_QUOTA,
    },
    mail: {
      smtpUrl: c.SMTP_URL,
      from: c.MAIL_FROM ?? `Ensemble <no-reply@${new URL(publicUrl).hostname}>`,
      devCatcher: c.DEV_MAIL_CATCHER ?? (c.NODE_ENV === 'development' && !c.SMTP_URL),
    },
    node: {
      name: c.NODE_NAME ?? 'Ensemble',
      description: c.NODE_DESCRIPTION ?? '',
      contactEmail: c.NODE_CONTACT_EMAIL ?? null,
      defaultLanguage: c.NODE_DEFAULT_LANGUAGE,
    },
    metrics: {
      enabled: c.METRICS_ENABLED,
      token: c.METRICS_TOKEN,
      allowedNetworks: c.METRICS_ALLOWED_NETWORKS,
    },
    federation: {
      enabled: c.FEDERATION_ENABLED,
      mode: c.FEDERATION_MODE,
      domains: c.FEDERATION_DOMAINS,
      allowedCidrs: c.FEDERATION_ALLOWED_CIDRS,
      fetchTimeoutMs: c.FEDERATION_FETCH_TIMEOUT_MS,
      fetchMaxBytes: c.FEDERATION_FETCH_MAX_SIZE,
      inboxMaxBytes: c.FEDERATION_INBOX_MAX_SIZE,
      inboxRatePerMinute: c.FEDERATION_INBOX_RATE_LIMIT,
      unsignedInbox: c.FEDERATION_UNSIGNED_INBOX && c.NODE_ENV === 'development',
      delivery: {
        concurrency: c.FEDERATION_DELIVERY_CONCURRENCY,
        perHost: c.FEDERATION_DELIVERY_PER_HOST,
        retryBaseMs: c.FEDERATION_RETRY_BASE_MS,
        maxAttempts: c.FEDERATION_MAX_ATTEMPTS,
        leaseMs: c.FEDERATION_DELIVERY_LEASE_MS,
      },
    },
    database: {
      uri: c.MONGODB_URI,
      name: c.MONGODB_DB_NAME,
      dataDir: c.DATA_DIR,
      toolsDir: c.TOOLS_DIR,
      ferretdbBin: c.FERRETDB_BIN,
      mongodSystemBinary: c.MONGOMS_SYSTEM_BINARY,
      allowDownload: c.EMBEDDED_DB_ALLOW_DOWNLOAD,
    },
  };
}
