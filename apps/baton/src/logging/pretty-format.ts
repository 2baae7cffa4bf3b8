/**
 * formatPretty turns one JSON log record into a line for a person watching a
 * terminal. Leadership changes get a banner-like marker so failover stands
 * out among job logs.
 */
const COLORS = { reset: '\x1b[0m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m',
  blue: '\x1b[34m', magenta: '\x1b[35m', cyan: '\x1b[36m', bold: '\x1b[1m', inverse: '\x1b[7m' } as const;

const EVENT_STYLE: Record<string, { tag: string; color: string }> = {
  'leader.elected': { tag: '★ LEADER  ', color: COLORS.bold + COLORS.green },
  'leader.lost': { tag: '✖ LOST    ', color: COLORS.bold + COLORS.red },
  'leader.resigned': { tag: '↓ RESIGNED', color: COLORS.bold + COLORS.yellow },
  'leader.changed': { tag: '→ FOLLOWS ', color: COLORS.cyan },
  'schedule.caught-up': { tag: '⟲ CATCHUP ', color: COLORS.magenta },
  'schedule.fired': { tag: '⏱ fired   ', color: COLORS.blue },
  'schedule.skipped': { tag: '⤼ skipped ', color: COLORS.yellow },
  'job.completed': { tag: '✓ job     ', color: COLORS.green },
  'job.failed': { tag: '✗ job     ', color: COLORS.red },
  'node.started': { tag: '● started ', color: COLORS.bold },
  'node.stopping': { tag: '◌ stopping', color: COLORS.yellow },
  'node.stopped': { tag: '○ stopped ', color: COLORS.dim },
};

const LEVEL_COLOR: Record<string, string> = { debug: COLORS.dim, info: '', warn: COLORS.yellow, error: COLORS.red };
const HIDDEN = new Set(['time', 'level', 'node', 'event', 'msg', 'pid', 'hostname']);

function clock(ms: number): string {
  const d = new Date(ms);
  return d.toISOString().slice(11, 23);
}

/** formatPretty: one record → one line (with a trailing newline). `color` off gives plain text. */
export function formatPretty(record: Record<string, unknown>, color = true): string {
  const c = (code: string, text: string) => (color && code ? `${code}${text}${COLORS.reset}` : text);
  const level = String(record.level ?? 'info');
  const event = typeof record.event === 'string' ? record.event : '';
  const style = EVENT_STYLE[event];
  const tag = style ? c(style.color, style.tag) : c(LEVEL_COLOR[level] ?? '', level.toUpperCase().padEnd(10));
  const facts = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const msg = style && (event.startsWith('leader.') && event !== 'leader.changed') ? c(style.color, String(record.msg ?? '')) : String(record.msg ?? '');
  return `${c(COLORS.dim, clock(Number(record.time) || Date.now()))} ${c(COLORS.cyan, String(record.node ?? ''))} ${tag} ${msg}${facts ? ' ' + c(COLORS.dim, facts) : ''}\n`;
}
