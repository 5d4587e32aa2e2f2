// Every address of the client (server/web/web.routes.ts answers the same list with the client's page).
import { route } from './router';

route('/', async () => (await import('./views/home')).HomePage);
route('/signin', async () => (await import('./views/signin')).SignInPage);
route('/search', async () => (await import('./views/search')).SearchPage);
route('/notifications', async () => (await import('./views/notifications')).NotificationsPage);
route('/people', async () => (await import('./views/people/people')).PeoplePage);
route('/people/:handle', async () => (await import('./views/people/profile')).ProfilePage);
route('/people/:handle/edit', async () => (await import('./views/people/profile-edit')).ProfileEditPage);
route('/groups/:handle', async () => (await import('./views/group/discussions')).GroupDiscussionsPage);
route('/groups/:handle/files', async () => (await import('./views/group/files')).GroupFilesPage);
route('/groups/:handle/members', async () => (await import('./views/group/members')).GroupMembersPage);
route('/groups/:handle/settings', async () => (await import('./views/group/settings')).GroupSettingsPage);
route('/groups/:handle/reports', async () => (await import('./views/group/reports')).GroupReportsPage);
route('/groups/:handle/audit', async () => (await import('./views/group/audit')).GroupAuditPage);
route('/groups/:handle/threads/:id', async () => (await import('./views/thread/thread.page')).ThreadPage);
route('/threads/:id', async () => (await import('./views/thread/thread.page')).ThreadPage);
route('/admin', async () => (await import('./views/admin/admin')).AdminPage);
route('/admin/federation', async () => (await import('./views/admin/federation')).AdminFederationPage);
route('/admin/settings', async () => (await import('./views/admin/settings')).AdminSettingsPage);
route('/admin/:section', async () => (await import('./views/admin/admin')).AdminPage);
