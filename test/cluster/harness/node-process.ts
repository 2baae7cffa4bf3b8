import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * LogRecord is one parsed JSON log line of a node: the app's own fields
 * (`time` epoch ms, `level`, `node`, `event`, `msg`, facts) plus `source`
 * (the harness id of the process that wrote it) and `receivedAt` (epoch ms
 * when the harness read it).
 */
export interface LogRecord {
  source: string;
  receivedAt: number;
  time: number;
  event?: string;
  node?: string;
  msg?: string;
  [fact: string]: unknown;
}

/** NodeState: `running`, `paused` (SIGSTOP), or `exited` (with its code or signal). */
export type NodeState = 'running' | 'paused' | 'exited';

/** NodeProcessOptions: what NodeProcess.spawn() runs. */
export interface NodeProcessOptions {
  id: string;
  /** entry: the script node runs (default set by BatonCluster: dist/apps/baton/main.js). */
  entry: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** onRecord: called for every parsed JSON line, in order. */
  onRecord: (record: LogRecord) => void;
}

/** MAX_RAW_LINES: raw output lines kept per node (oldest dropped first). */
const MAX_RAW_LINES = 20_000;

/**
 * NodeProcess is one OS process of a node: spawned with a fixed environment,
 * its stdout/stderr kept in memory (raw lines, JSON lines parsed), signals
 * sent by pid. A restarted node is a new NodeProcess with the same id.
 */
export class NodeProcess {
  readonly raw: string[] = [];
  readonly startedAt = Date.now();
  state: NodeState = 'running';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly streamsClosed: Promise<void>[] = [];

  constructor(private readonly options: NodeProcessOptions) {
    this.child = spawn(process.execPath, [options.entry], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.state = 'exited';
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (err) => {
        this.keep(`[harness] spawn error: ${err.message}`);
        this.state = 'exited';
        this.exit = { code: null, signal: null };
        resolve();
      });
    });
    this.read(this.child.stdout!, true);
    this.read(this.child.stderr!, false);
  }

  /** id: the node's harness id (also its BATON_NODE_ID). */
  get id(): string {
    return this.options.id;
  }

  /** pid: the OS pid (undefined only if spawn failed). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** signal sends `sig` unless the process already exited; keeps `state` in step. */
  signal(sig: NodeJS.Signals): void {
    if (this.state === 'exited') return;
    this.child.kill(sig);
    if (sig === 'SIGSTOP') this.state = 'paused';
    if (sig === 'SIGCONT') this.state = 'running';
  }

  /** waitExit resolves once the process exited and its output was read to the end. */
  async waitExit(): Promise<void> {
    await this.exited;
    await Promise.all(this.streamsClosed);
  }

  /** tail: the last `lines` raw output lines, for failure reports. */
  tail(lines = 40): string {
    return this.raw.slice(-lines).join('\n');
  }

  private keep(line: string): void {
    this.raw.push(line);
    if (this.raw.length > MAX_RAW_LINES) this.raw.splice(0, this.raw.length - MAX_RAW_LINES);
  }

  private read(stream: NodeJS.ReadableStream, parse: boolean): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    this.streamsClosed.push(new Promise((resolve) => lines.once('close', () => resolve())));
    lines.on('line', (line) => {
      this.keep(parse ? line : `[stderr] ${line}`);
      const record = parse ? parseRecord(line, this.options.id) : undefined;
      if (record) this.options.onRecord(record);
    });
  }
}

function parseRecord(line: string, source: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    return { ...parsed, source, receivedAt: Date.now(), time: Number(parsed.time ?? Date.now()) };
  } catch {
    return undefined;
  }
}
