import { auth, E2eNode, expectNestError, startE2eNode, waitFor } from './support/e2e-node';

jest.setTimeout(40_000);

describe('the admin API while Redis is down', () => {
  let node: E2eNode;

  beforeAll(async () => {
    node = await startE2eNode();
    await waitFor('/health/ready 200', 10_000, async () => (await node.http().get('/health/ready')).status === 200);
  });
  afterAll(async () => node?.stop());

  it('reports not ready (503) while staying live, answers API calls with 503 in Nest shape (never 500), and recovers', async () => {
    await node.server.kill();
    const ready = await waitFor('/health/ready 503', 10_000, async () => {
      const res = await node.http().get('/health/ready');
      return res.status === 503 ? res : undefined;
    });
    expect(JSON.stringify(ready.body)).toMatch(/redis/i);
    expect((await node.http().get('/health/live')).status).toBe(200);

    const write = await node.http().put('/api/schedules/while-down').set('Authorization', auth).send({ cron: '* * * * *', handler: 'log' });
    expect(expectNestError(write, 503)).toMatch(/Redis/);
    expectNestError(await node.http().get('/api/schedules').set('Authorization', auth), 503);

    await node.server.restart({ wipeData: true });
    await waitFor('/health/ready 200 after Redis is back', 20_000, async () => (await node.http().get('/health/ready')).status === 200);
    const after = await node.http().put('/api/schedules/after-outage').set('Authorization', auth).send({ cron: '* * * * *', handler: 'log' });
    expect(after.status).toBe(201);
    expect(await node.redis.hexists(node.keys.schedules, 'while-down')).toBe(0);
  });
});
