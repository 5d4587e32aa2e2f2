import { digestPeriod } from '../../server/notifications/notification.mail.js';

describe('digest periods', () => {
  it('gives one daily period per UTC day', () => {
    expect(digestPeriod('daily', new Date('2030-01-02T00:00:00Z'))).toBe('d:2030-01-02');
    expect(digestPeriod('daily', new Date('2030-01-02T23:59:59Z'))).toBe('d:2030-01-02');
    expect(digestPeriod('daily', new Date('2030-01-03T00:00:00Z'))).toBe('d:2030-01-03');
  });

  it('gives one weekly period per week, from Monday', () => {
    // 2030-01-07 is a Monday.
    const week = ['2030-01-07T00:00:00Z', '2030-01-09T12:00:00Z', '2030-01-13T23:59:59Z'].map((d) =>
      digestPeriod('weekly', new Date(d)),
    );
    expect(new Set(week)).toEqual(new Set(['w:2030-01-07']));
    expect(digestPeriod('weekly', new Date('2030-01-14T00:00:00Z'))).toBe('w:2030-01-14');
    expect(digestPeriod('weekly', new Date('2030-01-06T23:00:00Z'))).toBe('w:2029-12-31');
  });
});
