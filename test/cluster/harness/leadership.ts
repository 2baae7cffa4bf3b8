import type { LogRecord } from './node-process';

/**
 * actingLeaderProblems checks, from the logs alone, that at most one node
 * acted as leader at a time: every `schedule.fired` must come from a node
 * that logged `leader.elected` before it, with no other node elected in
 * between (so a stale leader firing after it was replaced is caught). Log
 * times are the nodes' wall clocks, all on this machine; an election in the
 * same millisecond as the fire is tolerated.
 */
export function actingLeaderProblems(records: LogRecord[]): string[] {
  const elections = records.filter((r) => r.event === 'leader.elected');
  const problems: string[] = [];
  for (const fired of records.filter((r) => r.event === 'schedule.fired')) {
    const own = elections.filter((e) => e.source === fired.source && e.time <= fired.time).pop();
    const what = `${fired.source} fired ${String(fired.schedule)} for ${String(fired.scheduledFor)} at ${fired.time}`;
    if (!own) {
      problems.push(`${what} without ever having been elected`);
      continue;
    }
    const usurper = elections.find((e) => e.source !== fired.source && e.time > own.time && e.time < fired.time);
    if (usurper) problems.push(`${what}, after ${usurper.source} was elected (term ${String(usurper.term)}) at ${usurper.time}`);
  }
  return problems;
}
