import { formatReport, runChaos } from '../chaos/chaos-run';
import { shutdownScenarios } from './harness';

// The CI slice of `npm run chaos`: a fixed seed, 40 s of mixed faults on a
// proxied 3-node cluster (kill, SIGSTOP past the lease, SIGTERM, AOF Redis
// restart, connection cut, black hole, latency). CHAOS_SEED replays another plan.
const SEED = Number(process.env.CHAOS_SEED ?? 20261127);

describe('chaos: a short seeded run of mixed faults', () => {
  afterEach(shutdownScenarios);

  it(`keeps every guarantee through 40 s of seeded faults (seed ${SEED})`, async () => {
    const report = await runChaos({ seed: SEED, durationMs: 40_000, progress: (line) => console.log(line) });
    console.log(formatReport(report));
    expect(report.problems).toEqual([]);
    expect(report.ticksLost).toBe(0);
    expect(report.ticksDoubled).toBe(0);
    expect(report.faults.length).toBeGreaterThanOrEqual(4);
  }, 150_000);
});
