import { configSchema, envObject, type ParsedEnv } from './config.schema.js';
import type { IssuerConfig } from './config.values.js';

/**
 * The configuration Ensemble runs with: the environment variables (config.schema.ts) parsed and checked once
 * at boot by `loadConfig`, then handed to what needs them.
 */

export { configSchema } from './config.schema.js';
export { DEFAULT_DENIED_TYPES, type IssuerConfig } from './config.values.js';

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
    /** Changes through the API (every method but GET, HEAD, OPTIONS) per person per minute. */
    writesPerMinute: number;
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
      // Development and tests only: production requires SESSION_SECRET (see the refinement in config.schema.ts).
      sessionSecret: c.SESSION_SECRET ?? 'development-only-session-secret-not-for-production',
      sessionMaxAgeMs: c.SESSION_MAX_AGE_HOURS * 3600_000,
      rateLimitPer15Min: c.AUTH_RATE_LIMIT,
      writesPerMinute: c.API_WRITE_RATE_LIMIT,
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
