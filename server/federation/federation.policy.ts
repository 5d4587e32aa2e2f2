/**
 * Which other servers this node federates with (ARCHITECTURE.md "Federation"): every server (open), every
 * server but the listed ones (blocklist), or only the listed ones (allowlist). A listed `*.example.org` covers
 * every subdomain of example.org; an entry may carry a port (`node.example.org:8443`). Applied to every inbound
 * request and to every outbound fetch and delivery.
 */
export class FederationPolicy {
  constructor(
    readonly mode: 'open' | 'blocklist' | 'allowlist',
    private readonly domains: string[],
  ) {}

  private listed(host: string): boolean {
    const hostname = host.replace(/:\d+$/, '');
    return this.domains.some((entry) => {
      if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1));
      return entry.includes(':') ? entry === host : entry === hostname;
    });
  }

  /** Whether the node talks to this host (`host` or `host:port`, or a URL). */
  allows(hostOrUrl: string): boolean {
    let host = hostOrUrl.toLowerCase();
    if (/^https?:\/\//.test(host)) {
      try {
        host = new URL(host).host;
      } catch {
        return false;
      }
    }
    if (this.mode === 'open') return true;
    const listed = this.listed(host);
    return this.mode === 'allowlist' ? listed : !listed;
  }
}
