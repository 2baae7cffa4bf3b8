import { auth, E2eNode, E2E_NODE_ID, expectNestError, snapshotStore, startE2eNode, waitFor } from './support/e2e-node';

jest.setTimeout(30_000);

interface LeaderView { nodeId: string; term: number; since: unknown; leaseRemainingMs: number }
interface NodeView { nodeId: string; role: string; host: string; pid: number; version: string; startedAt: string; lastSeenAt: string }
interface ClusterView { leader: LeaderView | null; nodes: NodeView[] }

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('cluster view, resign, health, docs and the API token', () => {
  let node: E2eNode;
  const cluster = async (): Promise<ClusterView> => {
    const res = await node.http().get('/api/cluster').set('Authorization', auth);
    expect(res.status).toBe(200);
    return res.body as ClusterView;
  };
  const electedView = (minTerm = 1) => waitFor(`a leader with term >= ${minTerm} listed as a node`, 10_000, async () => {
    const view = await cluster();
    return view.leader && view.leader.term >= minTerm && view.nodes.some((n) => n.role === 'leader') ? view : undefined;
  });

  beforeAll(async () => {
    node = await startE2eNode();
  });
  afterAll(async () => node?.stop());

  describe('GET /api/cluster', () => {
    it('shows this node as leader, with term, since and the remaining lease, and lists it with role leader', async () => {
      const view = await electedView();
      expect(view.leader).toMatchObject({ nodeId: E2E_NODE_ID });
      expect(Number.isInteger(view.leader!.term)).toBe(true);
      expect(view.leader!.term).toBeGreaterThanOrEqual(1);
      expect(view.leader!.since).not.toBeNull();
      expect(Number.isFinite(typeof view.leader!.since === 'string' ? Date.parse(view.leader!.since) : view.leader!.since)).toBe(true);
      expect(view.leader!.leaseRemainingMs).toBeGreaterThanOrEqual(0);
      expect(view.leader!.leaseRemainingMs).toBeLessThanOrEqual(1000);
      const me = view.nodes.find((n) => n.nodeId === E2E_NODE_ID)!;
      expect(me).toMatchObject({ nodeId: E2E_NODE_ID, role: 'leader', pid: process.pid });
      expect(typeof me.host).toBe('string');
      expect(me.host.length).toBeGreaterThan(0);
      expect(typeof me.version).toBe('string');
      expect(me.startedAt).toMatch(ISO);
      expect(me.lastSeenAt).toMatch(ISO);
      expect(view.nodes.filter((n) => n.role === 'leader')).toHaveLength(1);
    });
  });

  describe('POST /api/cluster/resign', () => {
    it('answers 200, the leader steps down, and the single node is elected again with a greater term', async () => {
      const before = (await electedView()).leader!;
      const res = await node.http().post('/api/cluster/resign').set('Authorization', auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resigned: { nodeId: E2E_NODE_ID, term: before.term } });
      const after = (await electedView(before.term + 1)).leader!;
      expect(after.nodeId).toBe(E2E_NODE_ID);
      expect(after.term).toBeGreaterThan(before.term);
    });
  });

  describe('health and docs', () => {
    it.each(['/health/live', '/health/ready'])('%s answers 200 with status ok and no token', async (path) => {
      const res = await waitFor(`${path} 200`, 10_000, async () => {
        const r = await node.http().get(path);
        return r.status === 200 ? r : undefined;
      });
      expect(res.body).toMatchObject({ status: 'ok' });
    });

    it('/health/ready includes Redis', async () => {
      const res = await node.http().get('/health/ready');
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).toMatch(/redis/i);
    });

    it('/docs serves the OpenAPI UI without a token', async () => {
      const res = await node.http().get('/docs').redirects(2);
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/swagger|openapi/i);
    });

    it('/docs-json is an OpenAPI document with every admin path', async () => {
      const res = await node.http().get('/docs-json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\./);
      const paths = Object.keys(res.body.paths);
      expect(paths).toEqual(expect.arrayContaining([
        '/api/schedules', '/api/schedules/{name}', '/api/schedules/{name}/pause', '/api/schedules/{name}/resume',
        '/api/schedules/{name}/trigger', '/api/schedules/{name}/runs', '/api/cluster', '/api/cluster/resign',
      ]));
      const item = res.body.paths['/api/schedules/{name}'];
      expect(Object.keys(item)).toEqual(expect.arrayContaining(['get', 'put', 'delete']));
      expect(Object.keys(res.body.paths['/api/schedules'])).toEqual(expect.arrayContaining(['get', 'post']));
    });
  });

  describe('the API token', () => {
    const calls: Array<[string, string]> = [
      ['GET', '/api/schedules'], ['GET', '/api/schedules/any'], ['PUT', '/api/schedules/sneaky'], ['POST', '/api/schedules'],
      ['DELETE', '/api/schedules/any'], ['POST', '/api/schedules/any/pause'], ['POST', '/api/schedules/any/resume'],
      ['POST', '/api/schedules/any/trigger'], ['GET', '/api/schedules/any/runs'], ['GET', '/api/cluster'],
      ['POST', '/api/cluster/resign'],
    ];
    const headers: Array<[string, string | undefined]> = [
      ['no Authorization header', undefined], ['a wrong token', 'Bearer test-token-124'], ['a longer token', `${auth}x`],
      ['a prefix of the token', 'Bearer test-token-12'], ['another scheme', 'Basic dGVzdC10b2tlbi0xMjM='],
      ['the bare token', 'test-token-123'], ['an empty bearer', 'Bearer '],
    ];

    it.each(headers)('rejects every /api call with %s as 401 in Nest shape, changing nothing', async (_what, header) => {
      const body = { name: 'sneaky', cron: '* * * * * *', handler: 'log' };
      const leaderBefore = (await electedView()).leader!;
      for (const [method, path] of calls) {
        const before = await snapshotStore(node);
        let req = node.http()[method.toLowerCase() as 'get' | 'put' | 'post' | 'delete'](path);
        if (header !== undefined) req = req.set('Authorization', header);
        const res = method === 'PUT' || method === 'POST' ? await req.send(body) : await req;
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
        expectNestError(res, 401);
        expect(await snapshotStore(node)).toEqual(before);
      }
      expect(await node.redis.hexists(node.keys.schedules, 'sneaky')).toBe(0);
      expect((await cluster()).leader!.term).toBe(leaderBefore.term); // the refused resign did not resign
    });

    it('keeps /health/* and /docs open with a wrong token too', async () => {
      for (const path of ['/health/live', '/health/ready', '/docs-json']) {
        expect((await node.http().get(path).set('Authorization', 'Bearer wrong-token')).status).toBe(200);
      }
    });
  });
});
