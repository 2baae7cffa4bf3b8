'use strict';
/** summarize: median, p99, max, min and mean of a list of numbers (ms). */
function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (x) => Math.round(x * 100) / 100;
  return {
    n: sorted.length, min: round(sorted[0]), median: round(at(0.5)), p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]), mean: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
  };
}
module.exports = { summarize };
