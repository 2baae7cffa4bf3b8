'use strict';
// Who sends which Redis command: a raw MONITOR connection (every command,
// also those run by Lua scripts and inside MULTI, as `INFO commandstats`
// counts them) plus the owner of each client address: the node process
// (its sockets in /proc) and the connection's name (CLIENT LIST).
const fs = require('node:fs');
const net = require('node:net');

/** startMonitor opens MONITOR on 127.0.0.1:port; stop() resolves with [{source, cmd}] seen (a script's commands carry its caller's address, cmd `evalsha>get`). */
function startMonitor(port) {
  const sock = net.connect(port, '127.0.0.1');
  const seen = [];
  let buf = '';
  let caller = null; // Redis 7.0 feeds EVAL/EVALSHA first, then the commands its script ran, as source "lua"
  sock.on('data', (d) => {
    buf += d.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!m) continue;
      const cmd = m[2].toLowerCase();
      if (m[1] === 'lua') {
        if (caller) seen.push({ source: caller.source, cmd: `${caller.cmd}>${cmd}` });
        continue;
      }
      caller = { source: m[1], cmd };
      seen.push(caller);
    }
  });
  const ready = new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.once('connect', () => { sock.write('MONITOR\r\n'); resolve(); });
  });
  return {
    ready,
    stop: () => new Promise((resolve) => { sock.end(); sock.once('close', () => resolve(seen)); }),
  };
}

/** redisSocketsByPid: pid → local ports of its TCP connections to 127.0.0.1:redisPort (from /proc). */
function redisPortsByPid(pids, redisPort) {
  const inodeToPort = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remPort = parseInt(f[2].split(':')[1], 16);
      if (remPort === redisPort) inodeToPort.set(f[9], parseInt(f[1].split(':')[1], 16));
    }
  }
  const out = new Map();
  for (const pid of pids) {
    const ports = [];
    let fds = [];
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { /* exited */ }
    for (const fd of fds) {
      let target = '';
      try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodeToPort.has(inode)) ports.push(inodeToPort.get(inode));
    }
    out.set(pid, ports);
  }
  return out;
}

/** clientNames: "ip:port" → connection name, from CLIENT LIST. */
async function clientNames(redis) {
  const list = String(await redis.client('LIST'));
  const names = new Map();
  for (const line of list.split('\n')) {
    const addr = /(?:^| )addr=(\S+)/.exec(line)?.[1];
    if (addr) names.set(addr, /(?:^| )name=(\S*)/.exec(line)?.[1] || '(unnamed)');
  }
  return names;
}

module.exports = { startMonitor, redisPortsByPid, clientNames };
