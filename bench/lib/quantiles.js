'use strict';
/** quantiles: the 0th..100th percentiles (101 values, rounded to 0.1) of a list; [] when empty. For CDF pictures. */
function quantiles(values) {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  return Array.from({ length: 101 }, (_, q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))] * 10) / 10);
}
module.exports = { quantiles };
