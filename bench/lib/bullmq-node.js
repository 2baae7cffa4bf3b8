'use strict';
// One peer-baseline worker process: a plain BullMQ Worker with a no-op
// processor on queue BENCH_QUEUE under prefix BENCH_PREFIX, concurrency
// BENCH_CONCURRENCY, BullMQ's defaults otherwise. Prints {"event":"ready"}
// once connected; closes on SIGTERM. Started by bench/firelag.js.
const { Worker } = require('bullmq');

const worker = new Worker(process.env.BENCH_QUEUE, async () => undefined, {
  connection: { url: process.env.REDIS_URL, maxRetriesPerRequest: null },
  prefix: process.env.BENCH_PREFIX,
  concurrency: Number(process.env.BENCH_CONCURRENCY),
});
worker.on('error', () => undefined);
worker.waitUntilReady().then(() => {
  process.stdout.write(`${JSON.stringify({ event: 'node.started', pid: process.pid, time: Date.now() })}\n`);
});
process.once('SIGTERM', () => { worker.close().finally(() => process.exit(0)); });
