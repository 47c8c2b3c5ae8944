// `seqcast serve`: the streaming server (src/server/) with its models, its demo streams, its state directory and its signals.

import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadModel } from '../api/model.js';
import { kernelVariant, supportsRelaxedSimd } from '../kernel/kernel.js';
import { InputError } from '../errors.js';
import { DEMO_ATTENTION, DEMO_HIDDEN, DEMO_RATE, demoModels, startDemo } from '../demo/streams.js';
import { WS_PATH } from '../protocol/messages.js';
import { PooledLocalProducers } from '../cluster/local-producers.js';
import { workerPool } from '../cluster/pool.js';
import { prepareStateDir } from '../cluster/state-layout.js';
import { SeqcastServer } from '../server/server.js';
import { DEFAULT_DETECTION_PROFILE, DETECTION_PROFILES, detectionThreshold, type DetectionProfile } from '../stream/detection-thresholds.js';
import { DEFAULT_ROTATED_FILES } from '../server/sink-file.js';
import { natsEngine } from '../cluster/nats/front-engine.js';
import { parseSinkTarget } from '../server/sinks.js';
import type { ServedModel } from '../stream/types.js';
import { positiveInteger } from './demo-command.js';
import { applyServeConfig } from './serve-config.js';
import { checkUsage, UsageError } from './usage.js';

export interface ServeCommandOptions {
  model?: string[];
  port: number;
  host: string;
  token?: string;
  producerToken?: string;
  readToken?: string;
  maxForecastRows?: number;
  stateDir?: string;
  demo?: boolean;
  demoRate: number;
  origin?: string[];
  allowedHost?: string[];
  maxPayload: number;
  rateLimit: number;
  addressRateLimit?: number;
  maxStreamsPerConnection: number;
  maxOrphansPerAddress?: number;
  idle: number;
  orphanTtl: number;
  checkpointInterval: number;
  detectionProfile: DetectionProfile;
  /** Prediction sinks: file paths, or webhook:URL. */
  sink?: string[];
  /** File sinks rotate past this many bytes; undefined: they are only appended to. */
  sinkRotateBytes?: number;
  /** Rotated files kept of each file sink. */
  sinkKeep?: number;
  /** Worker threads the streams are spread over: a count, or 'auto' (one per core, the default; 1 on one core: no worker). */
  workers?: number | 'auto';
  /** A NATS server: the streams live on cluster workers (docs/cluster.md). */
  nats?: string;
}

/** Adds the `serve` command to `program`; its action runs until SIGINT or SIGTERM, then hands 0 to `finish`. */
export function addServeCommand(program: Command, finish: (exitCode: number) => void): Command {
  return program
    .command('serve')
    .summary('serve predictions of live streams over WebSockets')
    .description(
      'Runs the streaming server: producers open streams and send frames over a WebSocket (ws://HOST:PORT/ws, docs/protocol.md) and get predictions, forecasts, errors and anomaly scores back; dashboards subscribe to streams. Prints its http://HOST:PORT/ address when ready.',
    )
    .option('--config <file>', 'read settings from a JSON file: {"model": ["pump.safetensors"], "port": 8080, "stateDir": "state", "sink": ["p.jsonl"], …}; every flag below, in camelCase; flags given here win')
    .option('-m, --model <file>', 'a .safetensors model to serve, named after its file (repeat for several; the first is the default)', collect)
    .option('--demo', 'serve the built-in demo: NAB machine temperature, a synthetic sensor and a bouncing ball video, replayed live and learned online')
    .addOption(new Option('--demo-rate <hz>', 'frames per second of each demo stream').default(DEMO_RATE).argParser(positiveNumber))
    .addOption(new Option('-p, --port <n>', 'port; 0 picks a free one').default(8080).argParser(port))
    .option('--host <address>', 'address to bind; anything but loopback needs a token', '127.0.0.1')
    .addOption(new Option('--token <token>', 'access token every connection must present; it gives the control role (reset, learning, horizon of any stream)').env('SEQCAST_TOKEN'))
    .addOption(new Option('--producer-token <token>', "a token for producers: their own streams only, no online learning (needs --token)").env('SEQCAST_PRODUCER_TOKEN'))
    .addOption(new Option('--read-token <token>', 'a token for viewers: list and subscribe only (needs --token)').env('SEQCAST_READ_TOKEN'))
    .option('--state-dir <dir>', 'checkpoint weights and stream states here (periodically and on SIGINT/SIGTERM) and restore them at start')
    .addOption(new Option('--checkpoint-interval <seconds>', 'seconds between checkpoints').default(30).argParser(positiveInteger))
    .option('--sink <target>', 'also send every prediction (one JSON line each, the protocol\'s prediction message) to a file (appended to, or rotated with --sink-rotate-bytes; fsync\'d at each checkpoint) or to webhook:http://HOST/PATH (POSTed in batches, retried; drops counted in /metrics); repeatable', collect)
    .addOption(new Option('--sink-rotate-bytes <n>', 'rotate each file sink at line boundaries before it passes N bytes: FILE becomes FILE.1, FILE.1 FILE.2, …').argParser(positiveInteger))
    .addOption(new Option('--sink-keep <k>', `rotated files kept of each file sink (FILE.1 … FILE.K; older ones are deleted), with --sink-rotate-bytes`).default(DEFAULT_ROTATED_FILES).argParser(positiveInteger))
    .option('--origin <origin>', 'a web origin allowed to connect besides the server itself, e.g. https://example.com (repeatable, "*" for any)', collect)
    .option('--allowed-host <name>', 'a host name requests may carry in their Host header besides the address bound, localhost, 127.0.0.1 and [::1], e.g. the name a proxy gives the server (repeatable)', collect)
    .addOption(new Option('--max-payload <bytes>', 'largest message; larger ones close the connection with 1009').default(1024 * 1024).argParser(positiveInteger))
    .addOption(new Option('--rate-limit <n>', 'messages (frames, and every other message, bad ones too) per second per connection').default(100_000).argParser(positiveInteger))
    .addOption(new Option('--address-rate-limit <n>', 'the same for all connections from one client address together (default: --rate-limit)').argParser(positiveInteger))
    .addOption(new Option('--max-streams-per-connection <n>', 'streams one connection may hold').default(1024).argParser(positiveInteger))
    .addOption(new Option('--max-orphans-per-address <n>', 'streams the connections of one client address may leave unheld in all; beyond it the oldest are closed').default(4096).argParser(positiveInteger))
    .addOption(new Option('--idle <seconds>', 'seconds without frames before a stream is snapshotted out of the kernel').default(60).argParser(positiveInteger))
    .addOption(new Option('--max-forecast-rows <n>', 'forecast rows the server computes per frame over all streams (the sum of their horizons); horizons past it are refused').default(4096).argParser(positiveInteger))
    .addOption(
      new Option('--detection-profile <profile>', "the NAB profile whose benchmarked threshold dashboards mark detections at (bench/RESULTS.md): standard, low-fp (fewer false positives) or low-fn (fewer misses)")
        .choices(DETECTION_PROFILES.map((p) => p.profile))
        .default(DEFAULT_DETECTION_PROFILE),
    )
    .addOption(new Option('--workers <n>', 'worker threads to spread the streams over, each with its own kernel and its own copy of the weights (docs/workers.md); "auto": one per core (on one core: one thread, no worker); 1 serves on one thread; a --state-dir written with another count is rearranged at start').default('auto').argParser(workerCount))
    .option('--nats <url>', 'serve the streams of a cluster of `seqcast worker`s through NATS JetStream at this URL (docs/cluster.md) instead of in this process')
    .addOption(new Option('--orphan-ttl <seconds>', 'seconds a stream nobody holds (its producer disconnected) is kept before it is closed').default(600).argParser(positiveInteger))
    .addHelpText(
      'after',
      [
        '',
        'A --config file holds any of the flags above, keyed by their long name in camelCase, with',
        'paths relative to the file; flags on the command line and environment variables win over it.',
        '',
        'Examples:',
        '  seqcast serve --demo',
        '  seqcast serve --model pump.safetensors --port 0 --state-dir ./state',
        '  seqcast serve --config seqcast.json --port 9000',
        '  SEQCAST_TOKEN=s3cret seqcast serve --model pump.safetensors --host 0.0.0.0',
      ].join('\n'),
    )
    .action(async (options: ServeCommandOptions & { config?: string }, command: Command) => {
      if (options.config !== undefined) applyServeConfig(command, options.config);
      finish(await runServe(command.opts<ServeCommandOptions>(), process.stdout));
    });
}

/** Starts the server and resolves with exit code 0 once a signal has stopped it (after the last checkpoint). */
export async function runServe(options: ServeCommandOptions, out: NodeJS.WritableStream): Promise<number> {
  if (options.sinkRotateBytes !== undefined && !(options.sink ?? []).some((target) => !target.startsWith('webhook:'))) {
    throw new UsageError('serve', '--sink-rotate-bytes rotates file sinks: give --sink FILE.jsonl too');
  }
  const rotate = options.sinkRotateBytes === undefined ? undefined : { bytes: options.sinkRotateBytes, keep: options.sinkKeep ?? DEFAULT_ROTATED_FILES };
  const sinks = checkUsage('serve', () => (options.sink ?? []).map(parseSinkTarget).map((sink) => ('file' in sink && rotate ? { ...sink, rotate } : sink)));
  const served: ServedModel[] = [];
  for (const path of options.model ?? []) {
    const name = basename(path, extname(path));
    if (served.some((m) => m.name === name)) throw new InputError(`two models are named "${name}"; give them different file names`);
    served.push({ name, model: await loadModel(path) });
  }
  if (options.demo) served.push(...(await demoModels()).filter((demo) => !served.some((m) => m.name === demo.name)));
  if (served.length === 0) throw new UsageError('serve', 'nothing to serve: give --model FILE.safetensors, or --demo for the built-in demo');

  const log = (line: string) => process.stderr.write(`seqcast: ${line}\n`);
  const workers = workerThreads(options);
  const engine = engineFor(options, workers);
  // a state directory written by N workers is rearranged here for this thread; the pool does it for N workers itself
  if (workers === 1 && options.stateDir !== undefined) await prepareStateDir(options.stateDir, 'single', log);
  const server = await SeqcastServer.start({
    models: served,
    host: options.host,
    port: options.port,
    token: options.token || undefined,
    producerToken: options.producerToken || undefined,
    readToken: options.readToken || undefined,
    maxForecastRows: options.maxForecastRows,
    stateDir: options.stateDir,
    checkpointIntervalMs: options.checkpointInterval * 1000,
    allowedOrigins: options.origin,
    allowedHosts: options.allowedHost,
    maxPayload: options.maxPayload,
    rateLimit: options.rateLimit,
    addressRateLimit: options.addressRateLimit,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    maxOrphansPerAddress: options.maxOrphansPerAddress,
    idleMs: options.idle * 1000,
    orphanTtlMs: options.orphanTtl * 1000,
    detectionProfile: options.detectionProfile,
    sinks,
    engine,
    log,
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new InputError(`port ${options.port} on ${options.host} is in use (another seqcast serve?); pick another with --port N, or --port 0 for a free one`);
    if (err.code === 'EACCES') throw new InputError(`not allowed to listen on port ${options.port} of ${options.host}; pick another with --port N`);
    throw err;
  });
  // with workers the demo's streams live on them too: its requests are answered when the worker answers
  const demo = options.demo ? await startDemo(workers > 1 ? new PooledLocalProducers(server) : server, { rate: options.demoRate }) : undefined;

  const wsUrl = `${server.url.replace(/^http/, 'ws')}${WS_PATH.slice(1)}`;
  out.write(`seqcast serving on ${server.url} (WebSocket ${wsUrl}${options.token ? ', token required' : ''})\n`);
  for (const { name, model } of served) out.write(`  model "${name}": ${model.describe()}\n`);
  if (workers > 1) out.write(`  workers: ${workers} threads, each with its own kernel and copy of the weights (docs/workers.md)\n`);
  for (const target of options.sink ?? []) out.write(`  sink: ${target.startsWith('webhook:') ? new URL(target.slice(8)).origin : target}\n`);
  const variant = await kernelVariant();
  out.write(
    variant === 'relaxed'
      ? '  kernel: build/seqcast-relaxed.wasm (relaxed SIMD: fused multiply-adds)\n'
      : variant === 'scalar'
        ? '  kernel: build/seqcast-scalar.wasm (no SIMD: the plain SIMD build\'s results, bit for bit, slower)\n'
        : `  kernel: build/seqcast.wasm (plain SIMD${supportsRelaxedSimd() ? '' : '; the faster relaxed-SIMD build needs Node 22+ or a browser'})\n`,
  );
  out.write(`  detections: anomaly score >= ${detectionThreshold(options.detectionProfile)} (NAB's ${options.detectionProfile} profile, bench/RESULTS.md)\n`);
  if (demo) {
    out.write(`  demo: streams machine-temperature (NAB, replayed), sensors (4 channels), sensors-attention (the same frames) and ball (16×16 video) at ${options.demoRate} frames/s each,\n`);
    out.write(`        learned online from scratch by LSTMs (H ${DEMO_HIDDEN['machine-temperature']}, ${DEMO_HIDDEN.sensors}, ${DEMO_HIDDEN.ball}; sensors-attention: H ${DEMO_HIDDEN['sensors-attention']} + an attention block, ${DEMO_ATTENTION.heads} heads over the last ${DEMO_ATTENTION.window} steps): every 8 frames, BPTT over the last 32, Adam 3e-3; errors fall as they play\n`);
  }
  out.write(server.servesDashboard ? `  dashboard: ${server.url}\n` : `  dashboard not built (no dist-web/ or web/dist/); ${server.url} says so\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      log(`${signal}: ${options.stateDir ? `checkpointing to ${options.stateDir} and ` : ''}stopping`);
      demo?.stop();
      server.close().then(resolve, (err) => {
        log(`stopping failed: ${(err as Error).message}`);
        resolve();
      });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
  for (const { model } of served) model.close();
  return 0;
}

/** The worker threads of `--workers` (1: the server's own thread, as before; auto: one per core); none with --nats. */
function workerThreads(options: ServeCommandOptions): number {
  if (options.nats !== undefined) return 1;
  return options.workers === 'auto' || options.workers === undefined ? availableParallelism() : options.workers;
}

/** The engine: cluster workers through NATS for --nats, worker threads for N > 1, none (the server's own thread) for 1. */
function engineFor(options: ServeCommandOptions, workers: number): ReturnType<typeof workerPool> | ReturnType<typeof natsEngine> | undefined {
  if (options.nats !== undefined) {
    if (options.demo || options.stateDir || (typeof options.workers === 'number' && options.workers !== 1)) throw new InputError('--nats serves the streams on cluster workers, which keep their own state: leave out --demo, --state-dir and --workers');
    return natsEngine({ url: options.nats });
  }
  return workers > 1 ? workerPool({ workers }) : undefined;
}

function workerCount(text: string): number | 'auto' {
  return text === 'auto' ? 'auto' : positiveInteger(text);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function port(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > 65535) throw new InvalidArgumentError('Expected a port number from 0 to 65535.');
  return value;
}

function positiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('Expected a positive number.');
  return value;
}
