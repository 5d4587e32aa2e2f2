/** One entry of a federation list: a host name, `*.example.org` for its subdomains, `host:port` for one port. */
export const FEDERATION_DOMAIN = /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d+)?$/;

export type FederationMode = 'open' | 'blocklist' | 'allowlist';

/**
 * Which other servers this node federates with (docs/federation.md, docs/adr/0022-node-settings-at-run-time.md): every server (open), every
 * server but the listed ones (blocklist), or only the listed ones (allowlist). A listed `*.example.org` covers
 * every subdomain of example.org; an entry may carry a port (`node.example.org:8443`). Applied to every inbound
 * request and to every outbound fetch and delivery. The node's administrators change it at run time
 * (`update`, from the node settings: docs/operations.md, "Federation"); every check reads the current one.
 */
export class FederationPolicy {
  private current: { mode: FederationMode; domains: string[] };

  constructor(mode: FederationMode, domains: string[]) {
    this.current = { mode, domains: [...domains] };
  }

  get mode(): FederationMode {
    return this.current.mode;
  }

  get domains(): readonly string[] {
    return this.current.domains;
  }

  /** Replace the mode and the list at once (checks in progress keep the one they started with). */
  update(mode: FederationMode, domains: string[]): void {
    this.current = { mode, domains: domains.map((d) => d.toLowerCase()) };
  }

  /** Take the policy the node's settings hold now, and every change of it from any process. */
  follow(settings: {
    current(): { federation: { mode: FederationMode; domains: string[] } };
    onChange(listener: (values: { federation: { mode: FederationMode; domains: string[] } }) => void): void;
  }): void {
    const apply = ({ federation }: { federation: { mode: FederationMode; domains: string[] } }) =>
      this.update(federation.mode, federation.domains);
    apply(settings.current());
    settings.onChange(apply);
  }

  private listed(host: string, domains: string[]): boolean {
    const hostname = host.replace(/:\d+$/, '');
    return domains.some((entry) => {
      if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1));
      return entry.includes(':') ? entry === host : entry === hostname;
    });
  }

  /** Whether the node talks to this host (`host` or `host:port`, or a URL). */
  allows(hostOrUrl: string): boolean {
    const { mode, domains } = this.current;
    let host = hostOrUrl.toLowerCase();
    if (/^https?:\/\//.test(host)) {
      try {
        host = new URL(host).host;
      } catch {
        return false;
      }
    }
    if (mode === 'open') return true;
    const listed = this.listed(host, domains);
    return mode === 'allowlist' ? listed : !listed;
  }
}
