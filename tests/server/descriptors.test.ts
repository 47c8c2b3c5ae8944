// At the descriptor limit the server goes on: a real `seqcast serve` under `ulimit -n 100`, flooded with stalled sockets.

import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, stopChild } from '../helpers/cli.js';
import { Client } from './client.js';

let child: ChildProcess | undefined;

afterAll(() => stopChild(child));

describe.skipIf(process.platform !== 'linux')('the descriptor limit', () => {
  it('150 stalled sockets against a limit of 100 descriptors end neither the process nor its service (EMFILE in the metrics timer)', async () => {
    const command = `ulimit -n 100 && exec "${process.execPath}" --import tsx tests/server/seqcast-cli.mts serve --demo --demo-rate 5 --port 0`;
    child = spawn('sh', ['-c', command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const url = await new Promise<URL>((resolve, reject) => {
      let stdout = '';
      child!.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const match = /seqcast serving on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match) resolve(new URL(match[1]));
      });
      child!.once('exit', (code) => reject(new Error(`seqcast serve exited with ${code}: ${stderr}`)));
    });
    const sockets: Socket[] = [];
    for (let i = 0; i < 150; i++) {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      sockets.push(socket);
    }
    // the metrics timer reads process.memoryUsage() every second: two ticks at the limit (this was exit 1 within ~3 s)
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(child.exitCode).toBeNull();
    for (const socket of sockets) socket.destroy();
    const client = await eventuallyConnect(url.href);
    client.send({ type: 'list' });
    expect((await client.next((m) => m.type === 'streams')).streams.map((s: { stream: string }) => s.stream)).toContain('sensors');
    await client.close();
    expect(child.exitCode).toBeNull();
    expect(stderr).not.toMatch(/EMFILE[\s\S]*Node\.js v/);
  }, 20_000);
});

/** Connects once the server has descriptors again (the stalled sockets' closes take a moment to reach it). */
async function eventuallyConnect(url: string): Promise<Client> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await Client.connect(url);
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
