// Servers with a --state-dir for the checkpoint tests: a fresh temporary folder per test (`dir`, the state directory
// `dir/state` inside it), the server's log lines, and every server, client and model stopped after each test.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

export interface StateDirServers {
  /** This test's temporary folder. */
  readonly dir: string;
  /** The server's --state-dir: `state` inside dir (not created: the server makes it). */
  readonly stateDir: string;
  /** What the servers of this test logged, in order. */
  readonly logs: string[];
  /** The running server, if any. */
  readonly server: SeqcastServer | undefined;
  /** The models the servers of this test were started on, in order. */
  readonly models: Model[];
  /** A server on a fresh model of the spec (as `seqcast serve --model` gives one), checkpointing to stateDir. */
  start(): Promise<SeqcastServer>;
  /** A client of the running server. */
  connect(): Promise<Client>;
  /** Stops the clients and the server (it checkpoints on the way out, as on SIGTERM). */
  stop(): Promise<void>;
}

/** Registers the per-test folder and clean-up hooks of the calling test file; `prefix` names its folders. */
export function useStateDirServers(spec: ModelSpec, prefix: string): StateDirServers {
  let dir = '';
  let server: SeqcastServer | undefined;
  const logs: string[] = [];
  const models: Model[] = [];
  const clients: Client[] = [];
  const stop = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `seqcast-${prefix}-`));
    logs.length = 0;
  });
  afterEach(async () => {
    await stop();
    for (const model of models.splice(0)) model.close();
    chmodSync(dir, 0o700); // a test may have made it read-only
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get stateDir() {
      return join(dir, 'state');
    },
    logs,
    get server() {
      return server;
    },
    models,
    async start() {
      const model = await createModel(spec);
      models.push(model);
      server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, stateDir: join(dir, 'state'), log: (line) => logs.push(line) });
      return server;
    },
    async connect() {
      const client = await Client.connect(server!.url);
      clients.push(client);
      return client;
    },
    stop,
  };
}
