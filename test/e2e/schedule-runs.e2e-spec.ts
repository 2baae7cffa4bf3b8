import { auth, E2eNode, E2E_NODE_ID, expectNestError, sleep, startE2eNode, waitFor } from './support/e2e-node';
import { expectRejected } from './support/rejection';

jest.setTimeout(30_000);

interface Run {
  jobId: string;
  scheduledFor: string;
  state: string;
  attempts: number;
  node: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('trigger, run history and deletion through the admin API', () => {
  let node: E2eNode;
  const put = (name: string, body: object) => node.http().put(`/api/schedules/${name}`).set('Authorization', auth).send(body);
  const runs = async (name: string, query = ''): Promise<Run[]> => {
    const res = await node.http().get(`/api/schedules/${name}/runs${query}`).set('Authorization', auth);
    expect(res.status).toBe(200);
    return res.body as Run[];
  };
  const trigger = async (name: string): Promise<string> => {
    const res = await node.http().post(`/api/schedules/${name}/trigger`).set('Authorization', auth);
    expect(res.status).toBe(202);
    expect(typeof res.body.jobId).toBe('string');
    return res.body.jobId as string;
  };
  const completed = (name: string, jobId: string) => waitFor(`run ${jobId} completed`, 10_000, async () =>
    (await runs(name)).find((r) => r.jobId === jobId && r.state === 'completed'));

  beforeAll(async () => {
    node = await startE2eNode();
  });
  afterAll(async () => node?.stop());

  it('trigger answers 202 with a job id, and the job runs on this node and shows up in runs', async () => {
    await put('manual', { cron: '0 0 1 1 *', handler: 'log', data: { hello: 'world' } });
    const before = Date.now();
    const jobId = await trigger('manual');
    expect(jobId.length).toBeGreaterThan(0);
    const run = await completed('manual', jobId);
    expect(run).toMatchObject({ jobId, state: 'completed', attempts: 1, node: E2E_NODE_ID, error: null });
    expect(run.scheduledFor).toMatch(ISO);
    expect(Date.parse(run.scheduledFor)).toBeGreaterThanOrEqual(before - 1000);
    expect(run.startedAt).toMatch(ISO);
    expect(run.finishedAt).toMatch(ISO);
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt!));
  });

  it('triggering twice gives two distinct jobs; runs lists them newest first and ?limit=N cuts the list', async () => {
    await put('history', { cron: '0 0 1 1 *', handler: 'log' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await trigger('history'));
      await completed('history', ids[i]);
      await sleep(5); // distinct trigger instants, so "newest first" has an order to show
    }
    expect(new Set(ids).size).toBe(3);
    const all = await runs('history');
    expect(all.map((r) => r.jobId)).toEqual([...ids].reverse());
    const times = all.map((r) => Date.parse(r.scheduledFor));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect((await runs('history', '?limit=2')).map((r) => r.jobId)).toEqual([ids[2], ids[1]]);
    expect((await runs('history', '?limit=1')).map((r) => r.jobId)).toEqual([ids[2]]);
    expect(await runs('history', '?limit=1000')).toHaveLength(3);
  });

  it('runs of a schedule that never ran is an empty list', async () => {
    await put('idle', { cron: '0 0 1 1 *', handler: 'log' });
    expect(await runs('idle')).toEqual([]);
  });

  it.each(['0', '1001', '-1', '1.5', 'abc', '', '1e2', '%20'])('rejects runs?limit=%s with 400 naming limit and its range', async (limit) => {
    await put('limits', { cron: '0 0 1 1 *', handler: 'log' });
    await expectRejected(node, () => node.http().get(`/api/schedules/limits/runs?limit=${limit}`).set('Authorization', auth),
      400, [/limit/, /\b1\b/, /1000/]);
  });

  it('a 1-second schedule is enqueued by the leader and no tick of it is enqueued after DELETE answers 204', async () => {
    await put('every-second', { cron: '* * * * * *', handler: 'log' });
    await waitFor('a cron tick of every-second', 10_000, async () => (await runs('every-second')).some((r) => r.state === 'completed'));
    const del = await node.http().delete('/api/schedules/every-second').set('Authorization', auth);
    expect(del.status).toBe(204);
    const deletedAtMs = Date.now();
    // Absence needs time to show: watch for 2.5 cron periods.
    await sleep(2500);
    // Job keys and run hashes both carry the tick's job id `<name>@<fireAtMs>`.
    const tickKeys = await node.redis.keys(`${node.keys.tag}:*every-second@*`);
    const fireTimes = tickKeys.map((k) => Number(k.slice(k.lastIndexOf('@') + 1))).filter(Number.isFinite);
    expect(fireTimes.length).toBeGreaterThan(0);
    expect(fireTimes.filter((t) => t > deletedAtMs)).toEqual([]);
    expectNestError(await node.http().get('/api/schedules/every-second/runs').set('Authorization', auth), 404);
  });
});
