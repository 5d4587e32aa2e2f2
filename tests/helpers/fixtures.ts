import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../server/core/paths.js';

/** Hosts the fixtures are written with (tests/fixtures/fediverse/README.md). */
const PEER_HOSTS = /https:\/\/(mastodon|lemmy|nodebb|mobilizon|hollo)\.example/g;
const NODE_HOST = 'https://ensemble.example';

export interface Fixture {
  activity: Record<string, unknown>;
  /** Where the payload's shape comes from (the `_source` field, stripped). */
  source: string;
}

/**
 * A peer payload from tests/fixtures/fediverse, with its hosts rewritten onto a FakeServer (`peer`) and the
 * node under test (`node`), and its `{{placeholders}}` (local ids the test made) filled in.
 */
export function loadFixture(
  name: string,
  hosts: { peer: string; node: string },
  values: Record<string, string> = {},
): Fixture {
  let text = readFileSync(path.join(projectRoot, 'tests/fixtures/fediverse', `${name}.json`), 'utf8')
    .replace(PEER_HOSTS, hosts.peer)
    .replaceAll(NODE_HOST, hosts.node);
  for (const [key, value] of Object.entries(values))
    text = text.replaceAll(`{{${key}}}`, JSON.stringify(value).slice(1, -1));
  const unfilled = /\{\{(\w+)\}\}/.exec(text);
  if (unfilled) throw new Error(`fixture ${name} needs a value for {{${unfilled[1]}}}`);
  const { _source: source, ...activity } = JSON.parse(text) as Record<string, unknown>;
  if (typeof source !== 'string') throw new Error(`fixture ${name} has no _source`);
  return { activity, source };
}
