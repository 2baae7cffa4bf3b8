import { auth, E2eNode, expectNestError, snapshotStore, startE2eNode } from './support/e2e-node';

jest.setTimeout(30_000);

const YEARLY = { cron: '0 0 1 1 *', handler: 'log' };
const CONTRACT_FIELDS = ['name', 'cron', 'timezone', 'handler', 'attempts', 'backoff', 'timeoutMs', 'overlap', 'misfire', 'paused'];

/** nextJan1Utc: the next 1 January 00:00 UTC strictly after `nowMs`, ISO. */
function nextJan1Utc(nowMs: number): string {
  const year = new Date(nowMs).getUTCFullYear();
  const thisYear = Date.UTC(year, 0, 1);
  return new Date(thisYear > nowMs ? thisYear : Date.UTC(year + 1, 0, 1)).toISOString();
}

/** nextDailyUtc: the next HH:00:00 UTC strictly after `nowMs`, ISO. */
function nextDailyUtc(hourUtc: number, nowMs: number): string {
  const d = new Date(nowMs);
  let at = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), hourUtc);
  if (at <= nowMs) at += 86_400_000;
  return new Date(at).toISOString();
}

const pick = (o: Record<string, unknown>) => Object.fromEntries(CONTRACT_FIELDS.map((k) => [k, o[k]]));

describe('schedules CRUD through the admin API', () => {
  let node: E2eNode;
  const put = (name: string, body: object) => node.http().put(`/api/schedules/${name}`).set('Authorization', auth).send(body);
  const get = (path: string) => node.http().get(path).set('Authorization', auth);
  const post = (path: string, body?: object) => node.http().post(path).set('Authorization', auth).send(body ?? {});

  beforeAll(async () => {
    node = await startE2eNode();
  });
  afterAll(async () => node?.stop());

  it('PUT creates (201) with every default filled in and a nextRunAt, and stores it in Redis', async () => {
    const res = await put('put-create', YEARLY);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'put-create', cron: '0 0 1 1 *', timezone: 'UTC', handler: 'log', attempts: 3,
      backoff: { type: 'exponential', delayMs: 1000 }, timeoutMs: 30000, overlap: 'allow', misfire: 'all', paused: false,
    });
    expect(res.body.nextRunAt).toBe(nextJan1Utc(Date.now()));
    expect(JSON.parse((await node.redis.hget(node.keys.schedules, 'put-create'))!)).toMatchObject({ name: 'put-create', cron: '0 0 1 1 *' });
  });

  it('PUT of the same body again answers 200 and leaves the same schedule (idempotent)', async () => {
    const first = await put('put-twice', { ...YEARLY, name: 'put-twice', attempts: 5 });
    const second = await put('put-twice', { ...YEARLY, name: 'put-twice', attempts: 5 });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(pick(second.body)).toEqual(pick(first.body));
    const read = await get('/api/schedules/put-twice');
    expect(pick(read.body)).toEqual(pick(first.body));
    expect(await node.redis.hlen(node.keys.schedules)).toBe((await get('/api/schedules')).body.length);
  });

  it('PUT replaces an existing schedule (200) and the new definition is what GET returns', async () => {
    await put('put-replace', { ...YEARLY, data: { a: 1 } });
    const res = await put('put-replace', { cron: '0 15 * * *', timezone: 'Asia/Tokyo', handler: 'log', misfire: 'none' });
    expect(res.status).toBe(200);
    const read = await get('/api/schedules/put-replace');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ cron: '0 15 * * *', timezone: 'Asia/Tokyo', misfire: 'none' });
    expect(read.body.data).toBeUndefined();
    expect(read.body.nextRunAt).toBe(nextDailyUtc(6, Date.now())); // 15:00 in Tokyo is 06:00 UTC
  });

  it('POST creates from a body with a name (201) and a second POST of that name is 409 that changes nothing', async () => {
    const created = await post('/api/schedules', { ...YEARLY, name: 'posted', attempts: 4 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'posted', attempts: 4 });
    expect(created.body.nextRunAt).toBe(nextJan1Utc(Date.now()));
    const before = await snapshotStore(node);
    const again = await post('/api/schedules', { ...YEARLY, name: 'posted', attempts: 9 });
    expect(expectNestError(again, 409)).toMatch(/posted/);
    expect(await snapshotStore(node)).toEqual(before);
    expect((await get('/api/schedules/posted')).body.attempts).toBe(4);
  });

  it('GET lists every schedule, each with its nextRunAt (6-field crons and time zones included)', async () => {
    await put('list-seconds', { cron: '30 * * * * *', handler: 'log' });
    await put('list-berlin', { cron: '0 0 12 * * *', timezone: 'Europe/Berlin', handler: 'log' });
    const res = await get('/api/schedules');
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    const byName = new Map<string, Record<string, unknown>>(res.body.map((s: { name: string }) => [s.name, s]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(['put-create', 'posted', 'list-seconds', 'list-berlin']));
    for (const s of byName.values()) expect(s.nextRunAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
    const seconds = Date.parse(byName.get('list-seconds')!.nextRunAt as string);
    expect(new Date(seconds).getUTCSeconds()).toBe(30);
    expect(seconds - Date.now()).toBeLessThanOrEqual(60_000);
    const berlin = new Date(byName.get('list-berlin')!.nextRunAt as string);
    expect([10, 11]).toContain(berlin.getUTCHours()); // noon in Berlin is 10:00 or 11:00 UTC
  });

  it('GET of one schedule returns it; an unknown one is 404 naming it', async () => {
    const one = await get('/api/schedules/posted');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'posted', handler: 'log' });
    expect(expectNestError(await get('/api/schedules/no-such-thing'), 404)).toMatch(/no-such-thing/);
  });

  it('DELETE answers 204 with no body, then GET and DELETE of it are 404 and Redis no longer has it', async () => {
    await put('to-delete', YEARLY);
    const del = await node.http().delete('/api/schedules/to-delete').set('Authorization', auth);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectNestError(await get('/api/schedules/to-delete'), 404);
    expectNestError(await node.http().delete('/api/schedules/to-delete').set('Authorization', auth), 404);
    expect(await node.redis.hexists(node.keys.schedules, 'to-delete')).toBe(0);
    expect((await get('/api/schedules')).body.map((s: { name: string }) => s.name)).not.toContain('to-delete');
  });

  it('pause answers 200 with paused true and no nextRunAt; resume brings both back', async () => {
    await put('pausable', YEARLY);
    const paused = await post('/api/schedules/pausable/pause');
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ name: 'pausable', paused: true, nextRunAt: null });
    expect((await get('/api/schedules/pausable')).body).toMatchObject({ paused: true, nextRunAt: null });
    expect(JSON.parse((await node.redis.hget(node.keys.schedules, 'pausable'))!).paused).toBe(true);
    const resumed = await post('/api/schedules/pausable/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ name: 'pausable', paused: false, nextRunAt: nextJan1Utc(Date.now()) });
    expect((await get('/api/schedules/pausable')).body).toMatchObject({ paused: false, nextRunAt: nextJan1Utc(Date.now()) });
  });

  it('pausing twice and resuming twice are both 200 and end in the same state', async () => {
    await put('pause-twice', YEARLY);
    expect((await post('/api/schedules/pause-twice/pause')).status).toBe(200);
    expect((await post('/api/schedules/pause-twice/pause')).body).toMatchObject({ paused: true });
    expect((await post('/api/schedules/pause-twice/resume')).status).toBe(200);
    expect((await post('/api/schedules/pause-twice/resume')).body).toMatchObject({ paused: false });
  });

  it('a schedule created paused has no nextRunAt until resumed', async () => {
    const res = await put('born-paused', { ...YEARLY, paused: true });
    expect(res.body).toMatchObject({ paused: true, nextRunAt: null });
  });

  it('pause, resume, trigger and runs of an unknown schedule are 404 and create nothing', async () => {
    for (const path of ['pause', 'resume', 'trigger']) {
      const before = await snapshotStore(node);
      expectNestError(await post(`/api/schedules/ghost/${path}`), 404);
      expect(await snapshotStore(node)).toEqual(before);
    }
    expectNestError(await get('/api/schedules/ghost/runs'), 404);
    expect(await node.redis.hexists(node.keys.schedules, 'ghost')).toBe(0);
  });
});
