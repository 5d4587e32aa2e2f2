import type { Router } from 'express';
import { authRoutes, type AuthRoutesDeps } from './auth/auth.routes.js';
import type { Api } from './core/api.js';
import type { FileRepository } from './files/file.repository.js';
import { fileRoutes } from './files/file.routes.js';
import type { FileService } from './files/file.service.js';
import type { FolderService } from './files/folder.service.js';
import { groupRoutes } from './groups/group.routes.js';
import { notificationRoutes } from './notifications/notification.routes.js';
import type { NotificationService } from './notifications/notification.service.js';
import type { DiscoveryService } from './threads/discovery.service.js';
import type { ReportService } from './threads/report.service.js';
import { threadRoutes } from './threads/thread.routes.js';
import type { ThreadService } from './threads/thread.service.js';
import type { GroupService } from './groups/group.service.js';
import type { MembershipService } from './groups/membership.service.js';
import { organizationRoutes } from './organizations/organization.routes.js';
import type { OrganizationService } from './organizations/organization.service.js';
import type { AccountService } from './people/account.service.js';
import { peopleRoutes } from './people/people.routes.js';
import type { ProfileService } from './people/profile.service.js';

import type { DeliveryWorker } from './federation/delivery.worker.js';
import { settingsRoutes } from './settings/settings.routes.js';
import type { NodeSettings } from './settings/settings.service.js';
import { federationAdminRoutes } from './federation/federation.admin.routes.js';
import { lookupRoutes } from './federation/lookup.routes.js';
import type { LookupService } from './federation/lookup.service.js';

export interface ApiServices {
  notifications: NotificationService;
  files: FileService;
  folders: FolderService;
  fileRepo: FileRepository;
  threads: ThreadService;
  discovery: DiscoveryService;
  reports: ReportService;
  groups: GroupService;
  memberships: MembershipService;
  accounts: AccountService;
  profiles: ProfileService;
  organizations: OrganizationService;
  settings: NodeSettings;
  /** Absent when federation is off (its admin route then answers 404). */
  deliveries?: Pick<DeliveryWorker, 'metrics'> | undefined;
  /** Absent when federation is off (then it answers 404). */
  lookup?: LookupService | undefined;
}

/** Every REST router, in mount order. The node and the OpenAPI generator both declare them here. */
export function declareApi(
  api: Api,
  services: ApiServices,
  auth: Omit<AuthRoutesDeps, 'api'>,
): { browser: Router[]; api: Router[] } {
  const authRouters = authRoutes({ ...auth, api });
  return {
    browser: [authRouters.browser],
    api: [
      authRouters.api,
      peopleRoutes(api, services.profiles, services.accounts),
      organizationRoutes(api, services.organizations, services.profiles),
      groupRoutes(api, services.groups, services.memberships),
      threadRoutes(api, services.threads, services.discovery, services.reports),
      fileRoutes(api, services.files, services.folders, services.fileRepo),
      notificationRoutes(api, services.notifications),
      settingsRoutes(api, services.settings),
      federationAdminRoutes(api, services.deliveries, services.settings),
      lookupRoutes(api, services.lookup),
    ],
  };
}
