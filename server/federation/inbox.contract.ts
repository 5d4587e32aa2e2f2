/**
 * What every inbox handler is given and takes (the table is inbox.handlers.ts; the handlers of each kind of
 * activity live in inbox.*.ts beside it and read these types from here, not from the table that imports them).
 */
import type { ApexInstance, ApexObject } from 'activitypub-express';
import type { Logger } from '../core/logger.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { MembershipService } from '../groups/membership.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { ReportService } from '../threads/report.service.js';
import type { ThreadService } from '../threads/thread.service.js';
import type { ActorDirectory } from './actor.directory.js';
import type { ApexStore } from './apex.store.js';
import type { FederationBridge } from './federation.bridge.js';
import type { FederationRecords } from './federation.records.js';
import type { GroupAudience } from './group.audience.js';
import type { PostsBeingWritten } from './inbox.writing.js';
import type { ObjectRenderer } from './object.renderer.js';
import type { PostAttachments } from './post.attachments.js';
import type { RemoteDirectory } from './remote.directory.js';
import type { RemoteFetcher } from './remote.fetcher.js';

/** A verified activity, as the handlers read it. */
export interface Inbound {
  /** The activity exactly as received (a group hosted here announces it as it is). */
  raw: Record<string, unknown>;
  /** The same, cut to what its actor's origin may vouch for (embedded copies from elsewhere are IRIs). */
  activity: Record<string, unknown>;
  id: string;
  type: string;
  actorId: string;
  /**
   * Whether this delivery recorded the activity (false: it was recorded before, a replay). Handlers of
   * RUNS_BESIDE_RECORD run while it is being recorded and must not write before it says true; the others run
   * once it has.
   */
  recorded: Promise<boolean>;
}

/**
 * Handlers that start while their activity is being recorded (ADR 0039): an announced new thread is written
 * once, under the claim on its IRI, so its checks and claim need not wait for the record; anything else they
 * apply waits for it.
 */
export const RUNS_BESIDE_RECORD: ReadonlySet<string> = new Set(['Announce']);

export type InboxHandler = (inbound: Inbound) => Promise<void>;

export interface InboxHandlerDeps {
  apex: ApexInstance;
  store: ApexStore;
  /**
   * One of this node's activities in apex's form: as kept, or, while its JSON-LD form is still being kept
   * (ADR 0031), as it was queued. A peer may answer that soon: a group's Accept of a Follow sent from here,
   * its Announce of a post written here.
   */
  ownActivity: (id: string, includeMeta?: boolean) => Promise<ApexObject | null>;
  directory: ActorDirectory;
  /** Posts of other nodes this process is writing now: what arrives about one meanwhile waits for it. */
  writing: PostsBeingWritten;
  renderer: ObjectRenderer;
  remote: RemoteDirectory;
  records: FederationRecords;
  fetcher: RemoteFetcher;
  audience: GroupAudience;
  bridge: FederationBridge;
  memberships: MembershipService;
  threads: ThreadService;
  reports: ReportService;
  groupRepo: GroupRepository;
  threadRepo: ThreadRepository;
  people: PersonRepository;
  /** Copies of the files received posts carry. */
  attachments: PostAttachments;
  /** Person follows (of people of this node) are apex's: accept one and record the follower. */
  acceptPersonFollow: (recipientIri: string, follow: Inbound) => Promise<void>;
  logger: Logger;
}
