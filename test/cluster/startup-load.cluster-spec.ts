import { batonKeys } from '@lib/common';
import { ScheduleStore, validateScheduleInput, type ScheduleSpec } from '@lib/scheduling';
import { connectTo } from '../support/redis-server';
import { shutdownScenarios, withCluster } from './harness';

// 10,000 every-second schedules, created a few seconds before three nodes start
// together: the first leader loads them, catches up the instants since their
// creation and writes the ticks of the next 3.5 s ahead while the two others
// boot and every worker runs, all on the same cores. This stormed twice: when
// the reload never handed the event loop back (20 terms in 50 s in the firelag
// bench), and when the catch-up asked node-cron for each schedule's instants
// one by one (their cursors, the creation times, all differ: a second of
// matcher work; this test saw 2 to 13 terms in 20 s): each time the leader
// missed its lease renewal deadline, stepped down, and the next leader had
// the same work to do.
const N = 10_000;
const WINDOW_MS = 20_000;

function specs(): ScheduleSpec[] {
  return Array.from({ length: N }, (_, i) => {
    const r = validateScheduleInput({ name: `load-${String(i).padStart(5, '0')}`, cron: '*/1 * * * * *', handler: 'log' },
      { handlers: new Set(['log']) });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  });
}

describe('start-up under load', () => {
  afterEach(shutdownScenarios);

  it(
    'three nodes starting with 10,000 every-second schedules elect one leader, keep it, and it writes every schedule\'s ticks',
    withCluster({ env: { LOG_LEVEL: 'warn' } }, async ({ cluster }) => {
      const admin = await connectTo(cluster.redis);
      try {
        const keys = batonKeys(cluster.prefix);
        const store = new ScheduleStore({ redis: admin, prefix: cluster.prefix });
        const all = specs();
        for (let i = 0; i < all.length; i += 1000) await Promise.all(all.slice(i, i + 1000).map((s) => store.create(s)));
        await cluster.startAll();
        const startedAt = Date.now();
        await new Promise((r) => setTimeout(r, WINDOW_MS));

        const term = Number(await admin.get(keys.term));
        const cursors = (await admin.hvals(keys.cursor)).map(Number);
        const behindMs = Date.now() - Math.min(...cursors);
        console.log(`10,000 schedules, 3 nodes, ${WINDOW_MS / 1000} s after start: term ${term}, ` +
          `${cursors.length} schedules with ticks written, the last written instant of the most behind one ${behindMs} ms ago`);
        expect(term).toBe(1); // one election, never another
        expect(cluster.events('leader.lost')).toEqual([]);
        expect(cursors.length).toBe(N);
        expect(Math.min(...cursors)).toBeGreaterThan(startedAt); // every schedule had ticks written after the start
      } finally {
        admin.disconnect();
      }
    }),
    120_000,
  );
});
