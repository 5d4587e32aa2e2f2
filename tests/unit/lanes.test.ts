import { Lanes } from '../../server/core/lanes.js';

/** A new post's first deliveries before its bookkeeping (docs/adr/0042-first-deliveries-before-bookkeeping.md). */
describe('Lanes', () => {
  it('runs the work nobody waits for after the held work, also when both start in one turn', async () => {
    const lanes = new Lanes(60_000);
    const order: string[] = [];
    // Two listeners of one event: the bookkeeping asks first, the deliveries are held in the same turn.
    const bookkeeping = lanes.later().then(() => order.push('bookkeeping'));
    const release = lanes.open();
    let handOut!: () => void;
    const handed = new Promise<void>((resolve) => (handOut = resolve));
    lanes.hold(handed);
    await new Promise((r) => setTimeout(r, 20));
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    order.push('deliveries handed');
    handOut();
    await bookkeeping;
    expect(order).toEqual(['deliveries handed', 'bookkeeping']);
    expect(lanes.busy).toBe(false);
  });

  it('does not wait when nothing is held, nor for a failed hold', async () => {
    const lanes = new Lanes(60_000);
    await lanes.later();
    lanes.hold(Promise.reject(new Error('a delivery failed before its request')));
    await lanes.later();
    expect(lanes.busy).toBe(false);
  });

  it('never starves: the work waits a bounded time however much stays held', async () => {
    const lanes = new Lanes(30);
    lanes.hold(new Promise(() => undefined));
    await lanes.later();
    expect(lanes.busy).toBe(true);
  });
});
