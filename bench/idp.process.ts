// Child process of bench/lib.ts: the real identity provider (oidc-provider) on its own loopback port, as a
// department's provider runs beside its node, not inside it. oidc-provider tracks an async context per
// request, which makes Node run a hook for every promise of its process; a node in production never has it
// (docs/adr/0049-no-async-context-tracking.md). Reports its issuer over IPC; exits when its parent does.
import { startTestIdp } from '../tests/helpers/idp.js';

const options = JSON.parse(process.env.BENCH_IDP!) as Parameters<typeof startTestIdp>[0];
const idp = await startTestIdp(options);
process.send!({ issuer: idp.issuer, url: idp.url });
process.on('disconnect', () => void idp.close().then(() => process.exit(0)));
