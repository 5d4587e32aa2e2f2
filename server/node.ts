import type http from 'node:http';
import cookieParser from 'cookie-parser';
import type { Express, RequestHandler, Router } from 'express';
import type { Db, MongoClient } from 'mongodb';
import { Passport } from 'passport';
import { ImageStore } from './files/image.store.js';
import { createApp } from './app.js';
import { AccountService } from './people/account.service.js';
import { declareApi, type ApiServices } from './api.routes.js';
import { GroupPurge } from './groups/group.purge.js';
import { GroupRepository } from './groups/group.repository.js';
import { GroupService } from './groups/group.service.js';
import { MembershipLifecycle } from './groups/membership.lifecycle.js';
import { MembershipService } from './groups/membership.service.js';
import { DiscoveryService } from './threads/discovery.service.js';
import { ReportRepository } from './threads/report.repository.js';
import { ReportService } from './threads/report.service.js';
import { ThreadRepository } from './threads/thread.repository.js';
import { ThreadService } from './threads/thread.service.js';
import { createCsrf } from './auth/csrf.js';
import { writeLimit } from './auth/write.limit.js';
import { developmentSignIn } from './auth/dev-sign-in.js';
import { OidcRegistry, type ProviderMetadata } from './auth/oidc.js';
import { callerOf, SessionUsers } from './auth/session.user.js';
import { createSessionMiddleware, SESSION_COOKIE } from './auth/session.js';
import { bridgeCache, followRecords } from './cache/cache.bridge.js';
import { PageCache } from './cache/page.cache.js';
import { bridgeRecords } from './cache/record.bridge.js';
import { RecordCache } from './cache/record.cache.js';
import { keptPages } from './cache/page.middleware.js';
import type { Config, IssuerConfig } from './config.js';
import { Api } from './core/api.js';
import { EventBus } from './core/events.js';
import type { Logger } from './core/logger.js';
import type { Lifecycle } from './ops/health.routes.js';
import { seedDemo } from './ops/demo.seed.js';
import { FileRepository } from './files/file.repository.js';
import { FileService } from './files/file.service.js';
import { FolderService } from './files/folder.service.js';
import { thumbnailJob } from './files/thumbnail.job.js';
import { AttachmentCopies } from './files/attachment.copies.js';
import { Lanes } from './core/lanes.js';
import { JobQueue } from './jobs/job.queue.js';
import { NotificationFanout } from './notifications/notification.fanout.js';
import { NotificationSweeps } from './notifications/notification.sweeps.js';
import { NotificationMail } from './notifications/notification.mail.js';
import { NotificationRepository } from './notifications/notification.repository.js';
import { unsubscribeRoutes } from './notifications/notification.routes.js';
import { NotificationAudience } from './notifications/notification.audience.js';
import { NotificationService } from './notifications/notification.service.js';
import { bridgeRealtime } from './realtime/realtime.bridge.js';
import { notificationPush } from './realtime/notification.push.js';
import { RealtimeServer } from './realtime/realtime.server.js';
import { catchLockReentry } from './db/document.lock.js';
import { runMigrations } from './db/migrations.js';
import { schemaMigrations } from './schema.migrations.js';
import { MailCatcher } from './mail/mail.catcher.js';
import { devMailRoutes } from './mail/mail.routes.js';
import { Mailer } from './mail/mailer.js';
import { sendInvitationMails } from './mail/invitation.mail.js';
import { OrganizationRepository } from './organizations/organization.repository.js';
import { OrganizationService } from './organizations/organization.service.js';
import { PersonRepository } from './people/person.repository.js';
import { ProfileService } from './people/profile.service.js';
import { DatabaseAvailability } from './db/availability.js';
import { composeFederation, type Federation } from './federation/federation.module.js';
import { clientDir } from './core/paths.js';
import { webRoutes } from './web/web.routes.js';
import { Metrics } from './ops/metrics.js';
import { SettingsRepository } from './settings/settings.repository.js';
import { NodeSettings, nodeInfoMetadata, settingsDefaults } from './settings/settings.service.js';

/** Composition root: repositories, services, auth and routers, wired into the Express app. */

export interface NodeDeps {
  config: Config;
  logger: Logger;
  client: MongoClient;
  db: Db;
  lifecycle?: Lifecycle;
}

export interface EnsembleNode {
  app: Express;
  events: EventBus;
  services: ApiServices;
  oidc: OidcRegistry;
  purge: GroupPurge;
  jobs: JobQueue;
  realtime: RealtimeServer;
  notificationMail: NotificationMail;
  /** Absent when FEDERATION_ENABLED=false. */
  federation: Federation | undefined;
  /** Absent when METRICS_ENABLED=false. */
  metrics: Metrics | undefined;
  /** Socket.IO on the HTTP server the app is served from (before it listens). */
  attach(server: http.Server): Promise<void>;
  close(): Promise<void>;
}

export async function composeNode(deps: NodeDeps): Promise<EnsembleNode> {
  const { config, logger, db } = deps;
  // Development and tests refuse a lock taken twice by one work at once; production tracks no async context.
  catchLockReentry(!config.isProduction);
  const events = new EventBus(logger);
  const metrics = config.metrics.enabled ? new Metrics(logger) : undefined;
  const settings = new NodeSettings(new SettingsRepository(db), settingsDefaults(config), logger);
  await settings.load();
  const unwatchDatabase = metrics?.watchDatabase(deps.client);
  const availability = new DatabaseAvailability(deps.client, logger);
  const organizationRepo = new OrganizationRepository(db);
  // Records pages are built from, kept in this process (docs/adr/0034-record-cache.md).
  const records = new RecordCache(config.recordCache);
  const personRepo = new PersonRepository(db, records);
  const organizations = new OrganizationService(organizationRepo);
  const images = new ImageStore(db);
  const profiles = new ProfileService(images, personRepo, organizationRepo, events);
  const session = createSessionMiddleware(config, deps.client, db);

  const issuers: IssuerConfig[] = [...config.auth.issuers];
  const presets: Record<string, ProviderMetadata> = {};
  const earlyRouters: { path: string; router: Router }[] = [];
  const admins = [...config.auth.admins];
  const devSignIn = config.auth.devIdp
    ? await developmentSignIn({ config, organizations: organizationRepo, logger })
    : undefined;
  if (devSignIn) {
    earlyRouters.push({ path: devSignIn.path, router: devSignIn.router });
    issuers.push(devSignIn.issuer);
    presets[devSignIn.issuer.id] = devSignIn.preset;
    admins.push(devSignIn.admin);
  }

  const accounts = new AccountService(
    personRepo,
    organizations,
    profiles,
    session.terminator,
    {
      admins,
      adminClaim: config.auth.adminClaim,
      organizationClaim: config.auth.organizationClaim,
      defaultLocale: () => settings.current().defaultLanguage,
    },
    events,
  );

  const groupRepo = new GroupRepository(db, records);
  const groups = new GroupService({
    repo: groupRepo,
    events,
    retentionMs: config.groups.retentionMs,
    images,
  });
  const memberships = new MembershipService({
    repo: groupRepo,
    groups,
    people: personRepo,
    events,
    organizations: organizationRepo,
  });
  const membershipLifecycle = new MembershipLifecycle({ repo: groupRepo, people: personRepo, events });
  accounts.onMerge((from, into) => membershipLifecycle.mergeMemberships(from, into));
  const threadRepo = new ThreadRepository(db, records);
  const fileRepo = new FileRepository(db);
  const jobs = new JobQueue(db, logger, undefined, config.jobs.leaseMs);
  jobs.register('thumbnail', thumbnailJob(fileRepo, logger), { concurrency: 1 });
  const files = new FileService({
    repo: fileRepo,
    groups,
    groupRepo,
    people: personRepo,
    events,
    jobs,
    limits: {
      ...config.files,
      policy: { allowed: config.files.allowedTypes, denied: config.files.deniedTypes },
      retentionMs: config.groups.retentionMs,
    },
  });
  const folders = new FolderService(fileRepo, groups, events);
  groups.onAudienceChange((groupId, audience) => files.syncAudience(groupId, audience));
  const notificationRepo = new NotificationRepository(db);
  await runMigrations(
    db,
    schemaMigrations({
      groups: groupRepo,
      threads: threadRepo,
      notifications: notificationRepo,
      files: fileRepo,
      profiles,
      db,
    }),
    logger,
  );
  const threads = new ThreadService(threadRepo, groups, personRepo, events, files, logger);
  const discovery = new DiscoveryService(threadRepo, groupRepo, threads);
  const reportRepo = new ReportRepository(db);
  const reports = new ReportService({ posts: threadRepo, reports: reportRepo, groups, threads, events });
  groups.onAudienceChange((groupId, audience) => threads.syncAudience(groupId, audience));
  const purge = new GroupPurge({
    groups: groupRepo,
    threads: threadRepo,
    reports: reportRepo,
    files,
    images,
    retentionMs: config.groups.retentionMs,
    logger,
  });
  purge.start();
  accounts.onMerge((from, into) => threadRepo.moveAuthorship(from, into));
  membershipLifecycle.start();

  let catcher: MailCatcher | undefined;
  let smtpUrl = config.mail.smtpUrl;
  if (config.mail.devCatcher) {
    catcher = new MailCatcher();
    smtpUrl = `smtp://127.0.0.1:${await catcher.start()}`;
    logger.warn(`development mail catcher: outgoing mail is kept and shown at ${config.publicUrl}/dev/mail`);
  }
  const mailer = new Mailer(smtpUrl, config.mail.from, logger);
  sendInvitationMails({
    events,
    mailer,
    groups: groupRepo,
    people: personRepo,
    publicUrl: config.publicUrl,
    node: () => settings.current(),
  });

  if (devSignIn && config.env === 'development') {
    await seedDemo({
      devIssuer: devSignIn.issuerUrl,
      cast: devSignIn.people,
      accounts,
      groupRepo,
      groups,
      memberships,
      threads,
      logger,
    });
  }

  const passport = new Passport();
  const sessionUsers = new SessionUsers(personRepo, events);
  sessionUsers.serve(passport);
  const registry = new OidcRegistry(passport, accounts, config.publicUrl, logger);
  await registry.register(issuers, presets);

  // A new post's first deliveries go before its bookkeeping (docs/adr/0042-first-deliveries-before-bookkeeping.md).
  const lanes = new Lanes();
  const federation = config.federation.enabled
    ? composeFederation({
        config,
        db,
        logger,
        events,
        lanes,
        people: personRepo,
        groups: groupRepo,
        threads: threadRepo,
        organizations: organizationRepo,
        attachments: new AttachmentCopies({
          repo: fileRepo,
          jobs,
          limits: {
            maxFileBytes: config.files.maxFileBytes,
            groupQuotaBytes: config.files.groupQuotaBytes,
            policy: { allowed: config.files.allowedTypes, denied: config.files.deniedTypes },
          },
          logger,
        }),
        services: { groups, memberships, threads, reports },
        ...(metrics ? { inboxObserver: metrics.inboxObserver() } : {}),
        nodeMetadata: () => nodeInfoMetadata(settings.current()),
      })
    : undefined;
  // The policy administrators set at run time, in force at once (and on every change, from any process).
  federation?.policy.follow(settings);
  // Federation answers before the JSON body parser: inboxes check the Digest against the raw body.
  if (federation) earlyRouters.push({ path: '/', router: federation.router });

  const audience = new NotificationAudience(groups, groupRepo);
  const notifications = new NotificationService(
    notificationRepo,
    groups,
    groupRepo,
    threadRepo,
    personRepo,
    audience,
  );
  const notificationMail = new NotificationMail(
    notificationRepo,
    personRepo,
    groupRepo,
    threadRepo,
    audience,
    mailer,
    jobs,
    config.publicUrl,
    config.auth.sessionSecret,
    logger,
  );
  const sweeps = new NotificationSweeps({ mail: notificationMail, repo: notificationRepo, logger });
  sweeps.start();
  const services: ApiServices = {
    accounts,
    profiles,
    organizations,
    groups,
    memberships,
    threads,
    discovery,
    reports,
    files,
    folders,
    fileRepo,
    notifications,
    settings,
    deliveries: federation?.worker,
    lookup: federation?.lookup,
  };
  const csrf = createCsrf(config);
  const pages = new PageCache(config.pageCache);
  const api = new Api(callerOf, pages);
  const routers = declareApi(
    api,
    { ...services },
    {
      passport,
      registry,
      csrfToken: csrf.token,
      csrfProtect: csrf.protect,
      rateLimitPer15Min: config.auth.rateLimitPer15Min,
      // A signed-out session's sockets go at once (realtime is created below; called only after boot).
      onSignOut: (sessionId) => realtime.endSession(sessionId),
      devIdpHint: config.auth.devIdp,
    },
  );
  const middleware: RequestHandler[] = [
    cookieParser(),
    session.middleware,
    passport.initialize(),
    passport.session(),
  ];
  const realtime = new RealtimeServer({
    logger,
    groups,
    threads: threadRepo,
    people: personRepo,
    publicUrl: config.publicUrl,
    redisUrl: config.redisUrl,
    handshake: middleware,
    callerOf,
    sessionIsCurrent: session.isCurrent,
    maxRoomsPerSocket: config.realtime.maxRoomsPerSocket,
  });
  // The cache bridge first: a page is dropped before the room events of the same change go out.
  bridgeCache(events, pages, realtime);
  bridgeRecords(events, records, realtime);
  followRecords(records, pages);
  session.follow(realtime, (personId) => sessionUsers.forget(personId));
  bridgeRealtime(events, realtime, metrics && ((event) => metrics.realtimeEvent(event)));
  new NotificationFanout({
    repo: notificationRepo,
    groups: groupRepo,
    threads: threadRepo,
    people: personRepo,
    jobs,
    logger,
    audience,
    lanes,
    deliverTo: [
      notificationPush({ realtime, views: (docs, readUpTo) => notifications.views(docs, readUpTo) }),
      notificationMail.delivered,
    ],
  }).listen(events);
  if (metrics) {
    metrics.watchRealtime(realtime);
    metrics.watchJobs(jobs);
    if (federation) metrics.watchDeliveries(federation.worker);
  }
  const app = createApp({
    config,
    logger,
    db,
    ...(deps.lifecycle ? { lifecycle: deps.lifecycle } : {}),
    keptPages: keptPages(pages, SESSION_COOKIE),
    earlyRouters,
    middleware,
    browserRouters: [
      ...routers.browser,
      unsubscribeRoutes(notificationMail, notifications),
      ...(catcher ? [devMailRoutes(catcher)] : []),
    ],
    apiMethodGuard: api.methodGuard([{ method: 'get', expressPath: '/openapi.json' }]),
    apiGuards: [csrf.protect, writeLimit(config.auth.writesPerMinute)],
    apiRouters: routers.api,
    openapi: () => api.document('/api/v1'),
    web: webRoutes({
      clientDir,
      callerOf,
      federation: Boolean(federation),
      exists: {
        group: (caller, handle) => groups.views.get(caller, handle),
        person: (caller, handle) => profiles.get(caller, handle),
        thread: (caller, id) => threads.get(caller, id),
      },
    }),
    ...(metrics ? { metrics } : {}),
    databaseGate: availability.gate(),
  });
  if (federation) app.locals.apex = federation.apex;
  // Last: a job left from a previous run may start at once and needs everything above.
  jobs.start();
  settings.start();
  session.start();
  federation?.start();
  return {
    app,
    events,
    services,
    jobs,
    realtime,
    notificationMail,
    federation,
    metrics,
    attach: (server) => realtime.attach(server),
    oidc: registry,
    purge,
    close: async () => {
      unwatchDatabase?.();
      availability.close();
      settings.stop();
      sweeps.stop();
      await realtime.close();
      purge.stop();
      membershipLifecycle.stop();
      await jobs.stop();
      await federation?.close();
      session.stop();
      mailer.close();
      await catcher?.stop();
    },
  };
}
