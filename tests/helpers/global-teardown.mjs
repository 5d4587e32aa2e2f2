import fs from 'node:fs';

export default async function globalTeardown() {
  const state = globalThis.__ENSEMBLE_TEST_DB__;
  if (!state) return;
  await state.database.stop();
  fs.rmSync(state.dataDir, { recursive: true, force: true });
}
