import { connectTo, startRedisServer, type RedisServerHandle } from '../support/redis-server';

describe('test redis-server support', () => {
  let server: RedisServerHandle;
  afterEach(async () => server?.cleanup());

  it('starts a private server on a free port that answers with its own pid', async () => {
    server = await startRedisServer();
    expect(server.port).not.toBe(6379);
    const client = await connectTo(server);
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    await client.quit();
  });

  it('keeps data across a restart only with AOF on', async () => {
    server = await startRedisServer({ appendOnly: true });
    let client = await connectTo(server);
    await client.set('k', 'kept');
    await client.quit();
    await server.restart({ kill: true });
    client = await connectTo(server);
    expect(await client.get('k')).toBe('kept');
    await client.quit();
    await server.restart({ wipeData: true });
    client = await connectTo(server);
    expect(await client.get('k')).toBeNull();
    await client.quit();
  });
});
