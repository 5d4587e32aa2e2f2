import { freePort } from '../../server/core/net.js';

/**
 * Servers started together ask for their ports before any of them listens (tests/helpers/world.ts: the node,
 * then its identity provider): the same port handed to both made the second fail with EADDRINUSE. Ports a
 * process was handed lately are not handed to it again, whether or not anything listens on them yet.
 */
describe('freePort', () => {
  it('never hands out a port twice in a row of 500 asked before anything listens', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 500; i++) ports.push(await freePort());
    const twice = ports.filter((p, i) => ports.indexOf(p) !== i);
    expect(twice).toEqual([]);
  });
});
