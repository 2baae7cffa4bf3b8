import { clusterView, observeFor, shutdownScenarios, term, waitForElection, waitUntil, withCluster } from './harness';

// Real node processes of the built app (npm run build first).
describe('leader election across three node processes', () => {
  afterEach(shutdownScenarios);

  it(
    'elects exactly one leader, and every node\'s GET /api/cluster names the same leader and term',
    withCluster({ leaseMs: 2000 }, async ({ cluster }) => {
      await cluster.startAll();
      const elected = await waitForElection(cluster, 10_000);
      const leader = elected.source;
      console.log(`leader ${leader} elected with term ${term(elected)} after boot`);

      const sameView = async () => {
        const views = await Promise.all(cluster.ids.map((id) => clusterView(cluster, id)));
        const agree = views.every((v) => v.leader?.nodeId === leader && Number(v.leader.term) === term(elected));
        const allListed = views.every((v) => cluster.ids.every((id) => v.nodes.some((n) => n.nodeId === id)));
        return agree && allListed && views;
      };
      const views = await waitUntil(sameView, { deadlineMs: 10_000, what: 'all three views to agree on the leader' });
      for (const view of views) {
        expect(view.leader!.leaseRemainingMs).toBeGreaterThan(0);
        expect(view.leader!.leaseRemainingMs).toBeLessThanOrEqual(cluster.leaseMs);
        expect(view.nodes.filter((n) => n.role === 'leader').map((n) => n.nodeId)).toEqual([leader]);
      }

      // For two more leases: no node but the leader ever logs an election, and the views keep agreeing.
      await observeFor(2 * cluster.leaseMs, async () => {
        expect(cluster.events('leader.elected').map((r) => r.source)).toEqual([leader]);
        expect(cluster.events('leader.lost')).toEqual([]);
      });
      expect(await sameView()).toBeTruthy();
      const followers = cluster.ids.filter((id) => id !== leader);
      for (const id of followers) {
        const changed = cluster.events((r) => r.event === 'leader.changed' && r.source === id);
        if (changed.length) expect(changed[changed.length - 1]).toMatchObject({ leader, term: term(elected) });
      }
    }),
    60_000,
  );
});
