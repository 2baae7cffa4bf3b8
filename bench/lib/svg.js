'use strict';
// The pictures of docs/BENCHMARKS.md, drawn from the JSON results as plain SVG.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x, y, s, extra = '') => `<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** failoverPanel: one trial: a row per node with its leadership, the fault, the gap, and every tick (dot height = lag). */
function failoverPanel(tl, y0, width) {
  const left = 70; const right = width - 20; const rowH = 22;
  const nodes = [...new Set(tl.events.filter((e) => e.event !== 'tick.waiting').map((e) => e.node))].sort();
  const x = (t) => left + ((t - tl.faultAt - (tl.from - tl.faultAt)) / (tl.to - tl.from)) * (right - left);
  const out = [text(left, y0 + 14, `${tl.kind === 'crash' ? 'Crash (SIGKILL)' : 'Graceful (SIGTERM)'} of the leader, lease ${tl.lease} ms`, 'font-weight="bold"')];
  const top = y0 + 24;
  const elected = tl.events.filter((e) => e.event === 'leader.elected');
  const newWin = elected.find((e) => e.node === tl.newLeader && e.t >= tl.faultAt);
  nodes.forEach((node, i) => {
    const y = top + i * rowH;
    out.push(text(8, y + 15, node, 'font-size="12"'));
    out.push(`<line x1="${left}" x2="${right}" y1="${y + 11}" y2="${y + 11}" stroke="#ddd"/>`);
    if (node === tl.leader) out.push(`<rect x="${left}" y="${y + 4}" width="${Math.max(0, x(tl.faultAt) - left)}" height="14" fill="${COLORS[0]}" opacity="0.8"/>`);
    if (newWin && node === tl.newLeader) out.push(`<rect x="${x(newWin.t)}" y="${y + 4}" width="${Math.max(0, right - x(newWin.t))}" height="14" fill="${COLORS[2]}" opacity="0.8"/>`);
  });
  const bottom = top + nodes.length * rowH;
  if (newWin) {
    out.push(`<rect x="${x(tl.faultAt)}" y="${top}" width="${Math.max(1, x(newWin.t) - x(tl.faultAt))}" height="${bottom - top}" fill="${COLORS[1]}" opacity="0.15"/>`);
    out.push(text(x(tl.faultAt) + 4, bottom + 12, `no leader ${newWin.t - tl.faultAt} ms`, `font-size="11" fill="${COLORS[1]}"`));
  }
  out.push(`<line x1="${x(tl.faultAt)}" x2="${x(tl.faultAt)}" y1="${top}" y2="${bottom + 70}" stroke="${COLORS[1]}" stroke-dasharray="4 3"/>`);
  // tick lags: a dot per tick at its scheduled instant, height = lag on a log scale from 1 ms to 10 s
  const lagTop = bottom + 18; const lagH = 56;
  const ly = (lag) => lagTop + lagH - (Math.log10(Math.max(1, lag)) / 4) * lagH;
  for (const lag of [1, 10, 100, 1000, 10000]) {
    out.push(`<line x1="${left}" x2="${right}" y1="${ly(lag)}" y2="${ly(lag)}" stroke="#eee"/>`, text(left - 6, ly(lag) + 4, lag >= 1000 ? `${lag / 1000} s` : `${lag} ms`, 'font-size="10" text-anchor="end"'));
  }
  for (const e of tl.events.filter((ev) => ev.event === 'tick.waiting')) {
    const at = Date.parse(e.scheduledFor);
    if (at < tl.from || at > tl.to) continue;
    const color = e.node === tl.leader ? COLORS[0] : e.node === tl.newLeader ? COLORS[2] : COLORS[3];
    out.push(`<circle cx="${x(at)}" cy="${ly(e.lagMs)}" r="3.5" fill="${color}"><title>${esc(`${e.scheduledFor} moved to wait by ${e.node}: ${e.lagMs} ms late`)}</title></circle>`);
  }
  out.push(text(8, lagTop + lagH / 2, 'tick lag', 'font-size="11"'));
  for (let t = Math.ceil((tl.from - tl.faultAt) / 1000) * 1000; t <= tl.to - tl.faultAt; t += 1000) {
    out.push(text(x(tl.faultAt + t), lagTop + lagH + 14, `${t / 1000} s`, 'font-size="10" text-anchor="middle"'));
  }
  return { svg: out.join('\n'), height: lagTop + lagH + 24 - y0 };
}

/** failoverSvg: the timelines (one panel each), with a legend. */
function failoverSvg(timelines) {
  const width = 760;
  let y = 10;
  const parts = [];
  for (const tl of timelines) {
    const p = failoverPanel(tl, y, width);
    parts.push(p.svg);
    y += p.height + 16;
  }
  const legend = [[COLORS[0], 'old leader (its lease, its ticks)'], [COLORS[2], 'new leader'], [COLORS[3], 'ticks written ahead, moved by workers'],
    [COLORS[1], 'fault and leaderless gap']]
    .map(([c, label], i) => `<rect x="${10 + i * 190}" y="${y}" width="12" height="12" fill="${c}"/>${text(28 + i * 190, y + 10, label, 'font-size="11"')}`);
  return svgDoc(width, y + 24, [...parts, ...legend].join('\n'));
}

/** cdfSvg: CDF curves (101 quantiles each) on a log x axis (ms). series: [{label, q}]. */
function cdfSvg(title, series, { minMs = 1, maxMs = 100_000 } = {}) {
  const width = 760; const height = 340; const left = 60; const right = width - 20; const top = 36; const bottom = height - 70;
  const lx = (ms) => left + ((Math.log10(Math.min(maxMs, Math.max(minMs, ms))) - Math.log10(minMs)) / (Math.log10(maxMs) - Math.log10(minMs))) * (right - left);
  const ly = (p) => bottom - (p / 100) * (bottom - top);
  const out = [text(left, 20, title, 'font-weight="bold"')];
  for (let ms = minMs; ms <= maxMs; ms *= 10) {
    out.push(`<line x1="${lx(ms)}" x2="${lx(ms)}" y1="${top}" y2="${bottom}" stroke="#eee"/>`,
      text(lx(ms), bottom + 14, ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`, 'font-size="10" text-anchor="middle"'));
  }
  for (const p of [0, 50, 90, 99, 100]) {
    out.push(`<line x1="${left}" x2="${right}" y1="${ly(p)}" y2="${ly(p)}" stroke="#eee"/>`, text(left - 6, ly(p) + 4, `p${p}`, 'font-size="10" text-anchor="end"'));
  }
  series.forEach((s, i) => {
    if (!s.q?.length) return;
    const pts = s.q.map((ms, p) => `${lx(ms).toFixed(1)},${ly(p).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" ${s.dashed ? 'stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<line x1="${left + (i % 2) * 340}" x2="${left + (i % 2) * 340 + 24}" y1="${bottom + 32 + Math.floor(i / 2) * 16}" y2="${bottom + 32 + Math.floor(i / 2) * 16}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" ${s.dashed ? 'stroke-dasharray="6 4"' : ''}/>`,
      text(left + (i % 2) * 340 + 30, bottom + 36 + Math.floor(i / 2) * 16, s.label, 'font-size="11"'));
  });
  return svgDoc(width, height, out.join('\n'));
}

function svgDoc(width, height, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

module.exports = { failoverSvg, cdfSvg };
