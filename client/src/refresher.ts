// Runs an async refresh at most once at a time: calls made while one runs fold into one more run after
// it, so a burst of live events costs two reads, and the last read always sees the latest state.
export function refresher(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  const go = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await run();
      } while (again);
    })().finally(() => (running = null));
    return running;
  };
  return go;
}
