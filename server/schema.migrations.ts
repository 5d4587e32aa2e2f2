import type { Db } from 'mongodb';
import type { Migration } from './db/migrations.js';
import { migrateStreamLookups } from './federation/apex.migration.js';
import type { FileRepository } from './files/file.repository.js';
import { migrateJobLeases } from './jobs/job.migration.js';
import { markRemoteMemberships, migrateGroupsToKeys } from './groups/group.migration.js';
import type { GroupRepository } from './groups/group.repository.js';
import { migrateFollowerLists, migrateNotificationState } from './notifications/notification.migration.js';
import type { NotificationRepository } from './notifications/notification.repository.js';
import type { ProfileService } from './people/profile.service.js';
import { migrateRepliesToPositions, migrateThreadsToPositions } from './threads/thread.migration.js';
import type { ThreadRepository } from './threads/thread.repository.js';

/** Every schema step after the first (ensureCollections gives version 1). */
export function schemaMigrations({
  groups,
  threads,
  notifications,
  files,
  profiles,
  db,
}: {
  db: Db;
  groups: GroupRepository;
  threads: ThreadRepository;
  notifications: NotificationRepository;
  files: FileRepository;
  profiles: Pick<ProfileService, 'reindexAll'>;
}): Migration[] {
  return [
    {
      version: 2,
      description: 'id-addressed pages: timeline and reply positions, handle and membership keys',
      run: async () => {
        await migrateGroupsToKeys(groups);
        await migrateThreadsToPositions(threads);
      },
    },
    {
      version: 3,
      description: 'notification hints and mail progress in their own documents',
      run: () => migrateNotificationState(notifications),
    },
    {
      version: 4,
      description: "each group's storage use counted again from its file versions",
      run: () => files.recountUsage(),
    },
    {
      version: 5,
      description: 'follower lists of groups and threads, read by _id (no scan of every subscription)',
      run: () => migrateFollowerLists(notifications),
    },
    {
      version: 6,
      description: "people's search tokens carry the directory's skill and language filters",
      run: () => profiles.reindexAll(),
    },
    {
      version: 7,
      description: 'stored activities looked up by top-level collections and objects, through indexes',
      run: () => migrateStreamLookups(db),
    },
    {
      version: 8,
      description: "memberships of other nodes' people marked, so a group's federation reads only theirs",
      run: () => markRemoteMemberships(groups, db),
    },
    {
      version: 9,
      description:
        'jobs nobody holds have a lease in the past (a date), so the due query is served by an index',
      run: () => migrateJobLeases(db),
    },
    {
      version: 10,
      description: 'a reply holds its own position in its thread, written with it in one insert',
      run: () => migrateRepliesToPositions(threads, db),
    },
  ];
}
