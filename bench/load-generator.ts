// The parent's side of bench/server-load.mjs, the load generator the server benches run in a child process:
// start one set up against a server, ask it for a run, and read its answer.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GENERATOR = fileURLToPath(new URL('./server-load.mjs', import.meta.url));

/** What one run of the generator measured (server-load.mjs's answer to `run`). */
export interface GeneratorRun {
  framesPerSecond: number;
  p50: number;
  p99: number;
  frames: number;
  /** Frames answered in the whole run (warm-up and drain included). */
  allFrames: number;
  errors: number;
  /** Frames sent and never answered. */
  unanswered: number;
}

/** Sends `message` to the generator and resolves with its answer; rejects when it fails or exits. */
export function ask(child: ChildProcess, message: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: Record<string, unknown>) => {
      child.off('exit', onExit);
      if (reply.type === 'failed') reject(new Error(`load generator failed: ${reply.message}`));
      else resolve(reply);
    };
    const onExit = (code: number) => reject(new Error(`load generator exited with ${code}`));
    child.once('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

/** A generator in a child process with `streams` streams open on the server at `httpUrl`, over `connections` sockets. */
export async function startGenerator(httpUrl: string, mode: 'json' | 'binary', streams: number, connections: number): Promise<ChildProcess> {
  const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await ask(child, { type: 'setup', url: `${httpUrl.replace('http', 'ws')}ws`, streams, connections, mode });
    return child;
  } catch (err) {
    child.kill();
    throw err;
  }
}

/** One run: `rate` frames/s (0 = flat out) for warmup + seconds, measured during `seconds`. */
export async function runGenerator(child: ChildProcess, rate: number, seconds: number, warmup: number): Promise<GeneratorRun> {
  return (await ask(child, { type: 'run', rate, seconds, warmup })) as unknown as GeneratorRun;
}

/** Waits up to `seconds` for the frames still in flight; resolves with how many never came back. */
export async function drainGenerator(child: ChildProcess, seconds: number): Promise<number> {
  return (await ask(child, { type: 'drain', seconds })).unanswered as number;
}
