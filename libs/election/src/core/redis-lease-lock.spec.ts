import { mergeKeyspaceFlags, RedisLeaseLock } from './redis-lease-lock';

describe('mergeKeyspaceFlags', () => {
  it.each([
    ['', 'Kx'],
    ['Ex', 'ExK'],
    ['KEA', 'KEA'],
    ['Elz', 'ElzKx'],
    ['Kgx', 'Kgx'],
    ['g', 'gKx'],
  ])('turns %p into %p without dropping flags already set', (current, expected) => {
    expect(mergeKeyspaceFlags(current)).toBe(expected);
  });
});

describe('RedisLeaseLock options', () => {
  const redis = { options: {}, defineCommand: () => undefined } as never;
  it.each([
    [{ prefix: 'p', identity: 'a' }, /redis/],
    [{ redis, prefix: '', identity: 'a' }, /prefix/],
    [{ redis, prefix: 'p', identity: '' }, /identity/],
  ])('rejects %p naming the bad field', (options, message) => {
    expect(() => new RedisLeaseLock(options as never)).toThrow(message);
  });
});
