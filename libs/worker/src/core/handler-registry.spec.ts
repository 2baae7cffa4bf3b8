import { HandlerRegistry } from './handler-registry';
import { DuplicateHandlerError, InvalidHandlerNameError } from './worker.errors';

describe('HandlerRegistry', () => {
  it('returns a registered handler by name and lists names sorted', () => {
    const registry = new HandlerRegistry();
    const send = () => 'sent';
    registry.register('send-report', send);
    registry.register('a.b_c', () => undefined);
    expect(registry.get('send-report')).toBe(send);
    expect(registry.has('send-report')).toBe(true);
    expect(registry.get('missing')).toBeUndefined();
    expect(registry.names()).toEqual(['a.b_c', 'send-report']);
  });

  it('rejects a second handler under the same name and keeps the first', () => {
    const registry = new HandlerRegistry();
    const first = () => 1;
    registry.register('http', first);
    expect(() => registry.register('http', () => 2)).toThrow(DuplicateHandlerError);
    expect(() => registry.register('http', () => 2)).toThrow('handler "http" is already registered');
    expect(registry.get('http')).toBe(first);
  });

  it.each(['', '-leading-dash', 'has space', 'a:b', 'x'.repeat(65), 'ünïcode'])('rejects the bad name %j', (name) => {
    const registry = new HandlerRegistry();
    expect(() => registry.register(name, () => undefined)).toThrow(InvalidHandlerNameError);
    expect(registry.names()).toEqual([]);
  });

  it('rejects a name that is not a string and a handler that is not a function', () => {
    const registry = new HandlerRegistry();
    expect(() => registry.register({} as unknown as string, () => undefined)).toThrow('handler name {} is invalid');
    expect(() => registry.register('ok', 'nope' as never)).toThrow('handler "ok" must be a function');
  });

  it('accepts a 64-character name', () => {
    const registry = new HandlerRegistry();
    registry.register('A'.repeat(64), () => undefined);
    expect(registry.names()).toEqual(['A'.repeat(64)]);
  });
});
