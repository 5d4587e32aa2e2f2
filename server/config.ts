import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from './core/paths.js';

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
});

export const configSchema = envObject.superRefine((cfg, ctx) => {
  if (cfg.NODE_ENV === 'production') {
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
  http: { jsonBodyLimit: string; shutdownTimeoutMs: number };
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
  // Never echo a connection string back: it can hold a password.
  if (variable === 'MONGODB_URI') return value.replace(/\/\/[^@/]*@/, '//***@');
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
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
  return {
    env: c.NODE_ENV,
    isProduction: c.NODE_ENV === 'production',
    host: c.HOST,
    port: c.PORT,
    publicUrl: c.PUBLIC_URL ?? `http://${publicHost}:${c.PORT}`,
    trustProxy: c.TRUST_PROXY,
    log: { level: c.LOG_LEVEL, pretty: c.LOG_PRETTY ?? c.NODE_ENV === 'development' },
    http: { jsonBodyLimit: c.JSON_BODY_LIMIT, shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS },
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
