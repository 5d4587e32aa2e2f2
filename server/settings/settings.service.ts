import { ObjectId } from 'mongodb';
import type { Config } from '../config.js';
import { requireAdmin, type Caller } from '../core/caller.js';
import { ServiceUnavailableError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SettingsRepository, SettingsRevisionDoc } from './settings.repository.js';
import type {
  FederationPolicyInput,
  NodeSettingsOverrides,
  NodeSettingsPatch,
  NodeSettingsValues,
} from './settings.schemas.js';

/** The node settings' defaults: what the environment says (docs/configuration.md). */
export function settingsDefaults(config: Config): NodeSettingsValues {
  const { name, description, contactEmail, defaultLanguage } = config.node;
  return {
    name: { en: name, fr: name },
    description: { en: description, fr: description },
    contactEmail,
    defaultLanguage,
    signInNotice: { en: '', fr: '' },
    federation: { mode: config.federation.mode, domains: [...config.federation.domains] },
  };
}

/** NodeInfo's `metadata` from the node settings (the names other servers show for this node). */
export function nodeInfoMetadata(v: NodeSettingsValues): Record<string, unknown> {
  return {
    nodeName: v.name[v.defaultLanguage],
    nodeDescription: v.description[v.defaultLanguage],
    ...(v.contactEmail ? { maintainer: { email: v.contactEmail } } : {}),
    languages: v.defaultLanguage === 'fr' ? ['fr', 'en'] : ['en', 'fr'],
  };
}

/** How often each process asks whether another one saved a change (one read by `_id`). */
export const SETTINGS_POLL_MS = 1000;

type Listener = (values: NodeSettingsValues) => void;

const KEYS = [
  'name',
  'description',
  'contactEmail',
  'defaultLanguage',
  'signInNotice',
  'federation',
] as const satisfies readonly (keyof NodeSettingsValues)[];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Leaf values by dotted path (`name.en`, `federation.domains`), for the audit's list of changes. */
function leaves(values: NodeSettingsValues): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const key of KEYS) {
    const value = values[key];
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) out.set(`${key}.${k}`, v);
    } else out.set(key, value);
  }
  return out;
}

/**
 * The node's settings, changed at run time by its administrators (docs/operations.md, "Node settings").
 * Each process keeps the current values in memory (checks such as the federation policy read them on every
 * request), applies its own changes at once and picks up other processes' within `SETTINGS_POLL_MS`
 * by asking for the next revision. Values not set through the API come from the environment.
 */
export class NodeSettings {
  private revision = 0;
  private latest: SettingsRevisionDoc | null = null;
  private overrides: NodeSettingsOverrides = {};
  private values: NodeSettingsValues;
  private readonly listeners: Listener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly repo: SettingsRepository,
    /** The environment's values (docs/configuration.md). */
    readonly defaults: NodeSettingsValues,
    private readonly logger: Logger,
    private readonly pollMs = SETTINGS_POLL_MS,
  ) {
    this.values = structuredClone(defaults);
  }

  /** Read the newest revision (at boot, before anything reads the values). */
  async load(): Promise<void> {
    const latest = await this.repo.latest();
    if (latest) this.apply(latest);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'node settings could not be read'));
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  current(): NodeSettingsValues {
    return this.values;
  }

  /** Called with the new values after every change, this process's or another's. */
  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Catch up with revisions other processes saved. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        for (let next = await this.repo.revision(this.revision + 1); next;) {
          this.apply(next);
          next = await this.repo.revision(this.revision + 1);
        }
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private apply(doc: SettingsRevisionDoc): void {
    this.revision = doc.revision;
    this.latest = doc;
    this.overrides = doc.overrides;
    const values = { ...structuredClone(this.defaults), ...structuredClone(doc.overrides) };
    const changed = !same(values, this.values);
    this.values = values;
    if (!changed) return;
    for (const listener of this.listeners) {
      try {
        listener(values);
      } catch (err) {
        this.logger.error({ err }, 'a node settings listener failed');
      }
    }
  }

  /**
   * Save a change: a new revision holding every value set through the API, and what changed. A patch sent
   * at the same moment as another's is applied on top of it (it names only the values it changes).
   */
  private async save(caller: Caller, change: (o: NodeSettingsOverrides) => NodeSettingsOverrides) {
    const admin = requireAdmin(caller);
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.refresh();
      const overrides = change(structuredClone(this.overrides));
      const after = { ...structuredClone(this.defaults), ...overrides };
      const before = leaves(this.values);
      const changes = [...leaves(after)]
        .filter(([field, to]) => !same(before.get(field), to))
        .map(([field, to]) => ({ field, from: before.get(field) ?? null, to }));
      if (!changes.length && same(overrides, this.overrides)) return;
      const doc = {
        revision: this.revision + 1,
        at: new Date(),
        by: admin.kind === 'person' ? { personId: new ObjectId(admin.personId), handle: admin.handle } : null,
        changes,
        overrides,
      };
      if (await this.repo.insert(doc)) {
        this.apply({ _id: '', ...doc });
        this.logger.info(
          { revision: doc.revision, by: doc.by?.handle ?? 'system', changes },
          'node settings changed',
        );
        return;
      }
    }
    throw new ServiceUnavailableError('The settings are being changed by others; try again.');
  }

  async update(caller: Caller, patch: NodeSettingsPatch): Promise<void> {
    await this.save(caller, (o) => {
      for (const key of Object.keys(patch) as (keyof NodeSettingsPatch)[]) {
        const value = patch[key];
        if (value === undefined) continue;
        if (value === null) delete o[key];
        else (o as Record<string, unknown>)[key] = value;
      }
      return o;
    });
  }

  /** A new policy, or null to go back to FEDERATION_MODE and FEDERATION_DOMAINS. */
  async setFederationPolicy(caller: Caller, policy: FederationPolicyInput | null): Promise<void> {
    await this.save(caller, (o) => {
      if (policy) o.federation = { mode: policy.mode, domains: [...new Set(policy.domains)] };
      else delete o.federation;
      return o;
    });
  }

  federationPolicy() {
    return {
      ...this.values.federation,
      source: this.overrides.federation ? ('settings' as const) : ('environment' as const),
      revision: this.revision,
    };
  }

  /** What anyone may read: how the node presents itself. */
  publicView() {
    const { federation: _federation, ...shown } = this.values;
    return shown;
  }

  adminView(caller: Caller) {
    requireAdmin(caller);
    return {
      revision: this.revision,
      updatedAt: this.latest?.at.toISOString() ?? null,
      updatedBy: this.latest ? { handle: this.latest.by?.handle ?? null } : null,
      values: this.values,
      environment: this.defaults,
      overridden: KEYS.filter((k) => k in this.overrides),
    };
  }

  async history(caller: Caller, query: { limit: number; before?: number | undefined }) {
    requireAdmin(caller);
    const rows = await this.repo.history(query.limit + 1, query.before);
    const page = rows.slice(0, query.limit);
    return {
      items: page.map((r) => ({
        revision: r.revision,
        at: r.at.toISOString(),
        by: r.by ? { handle: r.by.handle } : null,
        changes: r.changes,
      })),
      next: rows.length > query.limit ? page[page.length - 1]!.revision : null,
    };
  }
}
