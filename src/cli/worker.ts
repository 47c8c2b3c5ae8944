// `seqcast worker --nats URL --model M.safetensors`: a cluster worker (docs/cluster.md). Thin: the work is
// src/cluster/nats/worker-node.ts; this reads the flags and model files and stops on SIGINT/SIGTERM.

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { Option, type Command } from 'commander';
import { WorkerNode } from '../cluster/nats/worker-node.js';
import { InputError } from '../errors.js';
import { positiveInteger } from './demo-command.js';
import { UsageError } from './usage.js';

export interface WorkerCommandOptions {
  nats?: string;
  model?: string[];
  partitions?: number;
  checkpointEvery: number;
  leaseMs: number;
}

/** Adds the `worker` command to `program`; it runs until SIGINT or SIGTERM (it hands its partitions over), then hands 0 to `finish`. */
export function addWorkerCommand(program: Command, finish: (exitCode: number) => void): Command {
  return program
    .command('worker')
    .summary('a cluster worker: steps the streams of its share of the partitions from NATS JetStream')
    .description('Joins the seqcast cluster on a NATS JetStream server (docs/cluster.md): takes its fair share of the partitions, restores their checkpoints from the KV bucket, consumes their frames and publishes predictions; a partition of a worker that dies is taken over by another.')
    .option('--nats <url>', 'the NATS server, e.g. nats://127.0.0.1:4222 (started with -js)')
    .option('-m, --model <file>', 'a .safetensors model, named after its file (repeat for several; every worker and front end gives the same files)', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .addOption(new Option('--partitions <n>', "the cluster's partition count (default: the cluster's, 8 for a new one)").argParser(positiveInteger))
    .addOption(new Option('--checkpoint-every <seconds>', 'seconds between checkpoints of each partition').default(5).argParser(positiveInteger))
    .addOption(new Option('--lease-ms <ms>', 'a partition whose worker has not renewed its lease for this long is taken over').default(3000).argParser(positiveInteger))
    .action(async (options: WorkerCommandOptions) => finish(await runWorker(options)));
}

/** Runs a worker until a signal; 0 once it has handed its partitions over. */
export async function runWorker(options: WorkerCommandOptions): Promise<number> {
  if (!options.nats) throw new UsageError('worker', 'give the NATS server with --nats nats://HOST:PORT');
  if (!options.model?.length) throw new UsageError('worker', 'give the models to serve with --model FILE.safetensors');
  const models: { name: string; bytes: Uint8Array }[] = [];
  for (const path of options.model) {
    const name = basename(path, extname(path));
    if (models.some((m) => m.name === name)) throw new InputError(`two models are named "${name}"; give them different file names`);
    models.push({ name, bytes: await readFile(path).catch((err: Error) => Promise.reject(new InputError(`cannot read model ${path}: ${err.message}`))) });
  }
  const log = (line: string) => process.stderr.write(`seqcast worker: ${line}\n`);
  const node = await WorkerNode.start({ url: options.nats, models, partitions: options.partitions, checkpointMs: options.checkpointEvery * 1000, leaseMs: options.leaseMs, log });
  process.stdout.write(`seqcast worker ${node.id} joined ${options.nats}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: handing partitions ${node.partitions().join(', ') || '(none)'} over and stopping`);
      node.stop().then(resolve, (err) => (log(`stopping failed: ${(err as Error).message}`), resolve()));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
