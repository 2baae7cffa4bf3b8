import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * socketInodes lists the inodes of TCP sockets (IPv4 and IPv6) whose local
 * port is `localPort` and whose peer port is `peerPort`, from /proc/net/tcp*.
 * Linux only.
 */
export function socketInodes(localPort: number, peerPort: number): string[] {
  const inodes: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = parseInt(cols[1].split(':').pop()!, 16);
      const peer = parseInt(cols[2].split(':').pop()!, 16);
      if (local === localPort && peer === peerPort) inodes.push(cols[9]);
    }
  }
  return inodes;
}

/**
 * ownerOfConnection finds which of `pids` holds the client end of a TCP
 * connection (client source port `clientPort`, server port `serverPort`),
 * by matching socket inodes against /proc/<pid>/fd. Returns undefined when no
 * candidate holds it (closed already, or another process). Linux only.
 */
export function ownerOfConnection(clientPort: number, serverPort: number, pids: number[]): number | undefined {
  const wanted = new Set(socketInodes(clientPort, serverPort).map((inode) => `socket:[${inode}]`));
  if (wanted.size === 0) return undefined;
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return pid;
      } catch {
        // fd closed while we looked
      }
    }
  }
  return undefined;
}
