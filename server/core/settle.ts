/**
 * Start work now and decide later whether its result is wanted: the promise never rejects (so an
 * abandoned failure is not an unhandled rejection); calling what it resolves to returns the value or
 * throws the error.
 */
export function settle<T>(work: Promise<T>): Promise<() => T> {
  return work.then(
    (value) => () => value,
    (err: unknown) => () => {
      throw err;
    },
  );
}
