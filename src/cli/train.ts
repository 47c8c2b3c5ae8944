// `seqcast train`: trains an RNN, LSTM, GRU, transformer or hybrid offline on a CSV
// of frames or a text file, through the kernel's BPTT and Adam, and writes the best
// checkpoint (by validation loss) as safetensors. docs/training.md has the details.

import { randomBytes } from 'node:crypto';
import { open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createModel, type Model } from '../api/model.js';
import { HEAD_AS_TRAINED } from '../api/outputs.js';
import { InputError } from '../errors.js';
import type { CellKind, Nonlinearity, PositionalScheme } from '../kernel/kernel.js';
import { readCsvData, readTextData, type NanPolicy } from '../train/data.js';
import { runTraining } from '../train/loop.js';
import { planCsv, planText, saveCheckpoint, type TrainingPlan } from '../train/plan.js';
import type { TaskShape } from '../train/tasks.js';
import { parseColumnList } from '../io/columns.js';
import { describeFileError, OutputError } from '../io/files.js';
import { architectureFrom, type ArchitectureFlags } from './train-architecture.js';
import { fmtLoss, Progress, type TrainIo } from './train-progress.js';
import { checkUsage } from './usage.js';

export type { TrainIo } from './train-progress.js';

/** Every flag of `seqcast train`; the architecture's own (kind, cell, heads, … positional) are ArchitectureFlags. */
export interface TrainOptions extends ArchitectureFlags {
  data: string;
  out: string;
  /** Read --data as text (char-level) even without a .txt name. */
  text?: boolean;
  hidden?: number;
  layers?: number;
  embed?: number;
  window?: number;
  batch?: number;
  lr?: number;
  clip?: number;
  epochs?: number;
  steps?: number;
  valSplit?: number;
  patience?: number;
  seed?: number;
  task?: string;
  stride?: number;
  columns?: string;
  label?: string;
  labelType?: string;
  nan?: string;
  delta?: boolean;
  /** No progress bar or progress lines; the summary still prints. */
  quiet?: boolean;
}

const SHAPES = ['many-to-many', 'many-to-one', 'one-to-one'];
const DEFAULTS = { kind: 'lstm', hidden: 64, layers: 1, embed: 64, textWindow: 64, frameWindow: 32, batch: 32, lr: 2e-3, clip: 1, epochs: 10, valSplit: 0.1, patience: 3, seed: 0 };

/** Adds the `train` command to `program`, writing to `io`; its action hands its exit code to `finish`. */
export function addTrainCommand(program: Command, finish: (exitCode: number) => void, io: TrainIo = { stdout: process.stdout, stderr: process.stderr }): Command {
  return program
    .command('train')
    .summary('train an RNN, LSTM, GRU, transformer or hybrid model on a CSV of frames or a text file')
    .description(
      'Trains a model (rnn, lstm, gru, transformer or hybrid) offline with truncated BPTT, gradient clipping and Adam in the WebAssembly kernel, ' +
        'and writes the best checkpoint (lowest validation loss) as safetensors, with its normalizer or vocabulary.',
    )
    .requiredOption('-d, --data <file>', 'training data: a CSV of frames, or text (a .txt file, or with --text)')
    .requiredOption('-o, --out <file>', 'the model to write, .safetensors (replaced atomically at each new best)')
    .option('--text', 'read --data as text for a char-level model, whatever its name')
    .option('-k, --kind <kind>', `lstm, gru, rnn, transformer or hybrid (default: ${DEFAULTS.kind})`)
    .option('--nonlinearity <fn>', 'rnn cells (--kind rnn, or hybrid --cell rnn): tanh (default) or relu, as nn.RNN\'s nonlinearity; recorded in the file')
    .addOption(new Option('--hidden <H>', `hidden size (default: ${DEFAULTS.hidden})`).argParser(integer))
    .addOption(new Option('--layers <L>', `stacked recurrent layers (default: ${DEFAULTS.layers})`).argParser(integer))
    .addOption(new Option('--embed <E>', `embedding size of a text model (default: ${DEFAULTS.embed})`).argParser(integer))
    .addOption(new Option('--window <T>', `steps per window (default: ${DEFAULTS.frameWindow} for CSV, ${DEFAULTS.textWindow} for text; 1 for one-to-one)`).argParser(integer))
    .addOption(new Option('--batch <B>', `windows per step (default: ${DEFAULTS.batch})`).argParser(integer))
    .addOption(new Option('--lr <rate>', `Adam learning rate (default: ${DEFAULTS.lr})`).argParser(number))
    .addOption(new Option('--clip <norm>', `clip gradients to this global L2 norm; 0 = off (default: ${DEFAULTS.clip})`).argParser(number))
    .addOption(new Option('--epochs <n>', `passes over the training part (default: ${DEFAULTS.epochs})`).argParser(integer))
    .addOption(new Option('--steps <n>', 'stop after this many optimizer steps in all').argParser(integer))
    .addOption(new Option('--val-split <fraction>', `the last part of the data kept for validation; 0 = none (default: ${DEFAULTS.valSplit})`).argParser(number))
    .addOption(new Option('--patience <epochs>', `stop after this many epochs without a better validation loss; 0 = never (default: ${DEFAULTS.patience})`).argParser(integer))
    .addOption(new Option('--seed <n>', `seeds the initialisation and the window order; the same seed gives the same file (default: ${DEFAULTS.seed})`).argParser(integer))
    .option('--task <shape>', 'many-to-many (a target every step), many-to-one (one target after the last step) or one-to-one (T = 1) (default: many-to-many)')
    .addOption(new Option('--stride <n>', 'window starts advance by n (default: T for many-to-many, 1 otherwise)').argParser(integer))
    .option('--columns <list>', 'CSV input columns by header name or 0-based index, comma-separated (default: all but the time and label columns)')
    .option('--label <column>', 'CSV label column (a class id or a value per row) as the target of many-to-one / one-to-one')
    .option('--label-type <type>', 'auto, class (cross-entropy) or value (MSE) (default: auto: integer labels are classes)')
    .option('--nan <policy>', 'rows with an empty or NaN cell: refuse (default) or skip (and count)')
    .option('--delta', 'CSV: predict the change x[t+1] − x[t] instead of x[t+1] (metadata "target": "delta")')
    .option('--cell <cell>', 'hybrid: the recurrent cell under the attention blocks, lstm, gru or rnn (default: lstm)')
    .addOption(new Option('--heads <n>', 'transformer/hybrid: attention heads; must divide --hidden (default: 4, or 1 if it does not divide)').argParser(integer))
    .addOption(new Option('--blocks <n>', 'transformer/hybrid: attention blocks (default: 1)').argParser(integer))
    .addOption(new Option('--mlp <n>', 'transformer/hybrid: MLP width (default: 4 × --hidden)').argParser(integer))
    .addOption(new Option('--attention-window <n>', 'transformer/hybrid: positions each step attends to, itself included (default: --window)').argParser(integer))
    .addOption(new Option('--sinks <n>', 'transformer/hybrid: the stream\'s first positions, attended forever (default: 0)').argParser(integer))
    .option('--positional <scheme>', 'transformer/hybrid: alibi (a bias by offset inside the window: any stream position works as the trained ones), sinusoidal (transformer: absolute positions, as before) or none (default: alibi)')
    .option('-q, --quiet', 'no progress bar or progress lines')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  seqcast train --data sensors.csv --kind lstm --hidden 64 --window 32 --out sensors.safetensors',
        '  seqcast train --data input.txt --kind lstm --hidden 256 --embed 64 --window 64 --batch 32 --out chars.safetensors',
        '  seqcast train --data runs.csv --columns temp,flow --label fault --task many-to-one --window 50 --out fault.safetensors',
        '  seqcast train --data sensors.csv --kind rnn --nonlinearity relu --hidden 32 --out relu-rnn.safetensors',
        '',
        '  seqcast train --data input.txt --kind transformer --hidden 64 --heads 4 --blocks 2 --window 64 --out tiny-gpt.safetensors',
        '',
        'transformer: --hidden is the model width D. Attention knows order by ALiBi offsets inside its window, so a',
        '  stream far past the training windows sees what training saw (--positional sinusoidal: absolute positions,',
        '  counted from 0 in each training window, which a long stream outgrows).',
        'hybrid: a --cell stack of --layers, whose top h feeds the attention blocks. See docs/training.md.',
      ].join('\n'),
    )
    .action(async (options: TrainOptions) => {
      finish(await runTrain(options, io));
    });
}

function integer(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got ${JSON.stringify(value)}`);
  return n;
}

interface Settings {
  text: boolean;
  kind: 'recurrent' | 'transformer' | 'hybrid';
  cell: CellKind;
  heads: number;
  blocks: number;
  mlp: number;
  attentionWindow: number;
  sinks: number;
  positional: PositionalScheme;
  hidden: number;
  layers: number;
  embed: number;
  window: number;
  batch: number;
  lr: number;
  clip: number;
  epochs: number;
  steps?: number;
  valSplit: number;
  patience: number;
  seed: number;
  shape: TaskShape;
  stride?: number;
  columns?: string[];
  label?: string;
  labelType: 'auto' | 'class' | 'value';
  nan: NanPolicy;
  delta: boolean;
  nonlinearity: Nonlinearity | undefined;
}

/** Checks every flag before anything is read or written; throws InputError naming the flag and its value. */
export function settingsFrom(options: TrainOptions): Settings {
  const architecture = architectureFrom(options, DEFAULTS.kind);
  const attention = architecture.kind !== 'recurrent';
  const text = options.text === true || extname(options.data).toLowerCase() === '.txt';
  const shape = (options.task ?? 'many-to-many') as TaskShape;
  if (options.task === 'one-to-many') {
    throw new InputError('--task one-to-many is a way to run a trained model, not to train one: train many-to-many (next-step) and generate with stream.forecast(k) or by feeding sampled tokens back');
  }
  if (!SHAPES.includes(shape)) throw new InputError(`--task must be many-to-many, many-to-one or one-to-one, got ${JSON.stringify(options.task)}`);
  const positive = (flag: string, v: number | undefined, fallback: number, min = 1) => {
    const value = v ?? fallback;
    if (!Number.isInteger(value) || value < min) throw new InputError(`${flag} must be a whole number ≥ ${min}, got ${value}`);
    return value;
  };
  let window = options.window ?? (shape === 'one-to-one' ? 1 : text ? DEFAULTS.textWindow : DEFAULTS.frameWindow);
  if (shape === 'one-to-one') {
    if (window !== 1) throw new InputError(`--task one-to-one trains windows of one step (T = 1), got --window ${window}`);
  } else if (shape === 'many-to-many' && window < 2) {
    throw new InputError(`--window must be 2 or more for many-to-many training (a window of ${window} step${window === 1 ? '' : 's'} has nothing to carry from step to step); use --task one-to-one for T = 1`);
  }
  window = positive('--window', window, window);
  const lr = options.lr ?? DEFAULTS.lr;
  if (!(lr > 0)) throw new InputError(`--lr must be above 0, got ${lr}`);
  const clip = options.clip ?? DEFAULTS.clip;
  if (!(clip >= 0)) throw new InputError(`--clip must be ≥ 0 (0 = off), got ${clip}`);
  const valSplit = options.valSplit ?? DEFAULTS.valSplit;
  if (!(valSplit >= 0 && valSplit < 1)) throw new InputError(`--val-split must be in [0, 1), got ${valSplit}`);
  const labelType = (options.labelType ?? 'auto') as Settings['labelType'];
  if (!['auto', 'class', 'value'].includes(labelType)) throw new InputError(`--label-type must be auto, class or value, got ${JSON.stringify(options.labelType)}`);
  const nan = (options.nan ?? 'refuse') as NanPolicy;
  if (nan !== 'skip' && nan !== 'refuse') throw new InputError(`--nan must be skip or refuse, got ${JSON.stringify(options.nan)}`);
  const columns = parseColumnList(options.columns);
  if (text) {
    for (const [flag, given] of [['--columns', options.columns], ['--label', options.label], ['--label-type', options.labelType], ['--nan', options.nan], ['--delta', options.delta]] as const) {
      if (given !== undefined) throw new InputError(`${flag} applies to CSV data; ${options.data} is read as text`);
    }
  } else if (options.embed !== undefined) {
    throw new InputError(`--embed applies to text models; ${options.data} is read as CSV frames (use --text for a text file without a .txt name)`);
  }
  if (options.label !== undefined && shape === 'many-to-many') {
    throw new InputError('a --label column is the target of --task many-to-one (or one-to-one); many-to-many predicts the next frame');
  }
  const hidden = positive('--hidden', options.hidden, DEFAULTS.hidden);
  const heads = positive('--heads', options.heads, hidden % 4 === 0 ? 4 : 1);
  if (attention && hidden % heads !== 0) throw new InputError(`--heads ${heads} does not divide --hidden ${hidden} (the model width)`);
  return {
    text,
    ...architecture,
    heads,
    blocks: positive('--blocks', options.blocks, 1),
    mlp: positive('--mlp', options.mlp, 4 * hidden),
    attentionWindow: positive('--attention-window', options.attentionWindow, window),
    sinks: positive('--sinks', options.sinks, 0, 0),
    hidden,
    layers: positive('--layers', options.layers, DEFAULTS.layers),
    embed: positive('--embed', options.embed, DEFAULTS.embed),
    window,
    batch: positive('--batch', options.batch, DEFAULTS.batch),
    lr,
    clip,
    epochs: positive('--epochs', options.epochs, DEFAULTS.epochs),
    steps: options.steps === undefined ? undefined : positive('--steps', options.steps, 1),
    valSplit,
    patience: positive('--patience', options.patience, DEFAULTS.patience, 0),
    seed: positive('--seed', options.seed, DEFAULTS.seed, 0),
    shape,
    stride: options.stride === undefined ? undefined : positive('--stride', options.stride, 1),
    columns,
    label: options.label,
    labelType,
    nan,
    delta: options.delta === true,
  };
}

/**
 * Finds out before any training whether `path` can be written: it must not
 * be a directory, and its directory must take a new file (created and removed
 * again here, as model.save will create its temporary file there).
 */
export async function checkWritable(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) throw new OutputError(`cannot write ${path}: it is a directory`);
  } catch (err) {
    if (err instanceof OutputError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputError(`cannot write ${path}: ${describeFileError(err)}`);
  }
  const probe = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.probe`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (err) {
    throw new OutputError(`cannot write ${path}: ${describeFileError(err)}`);
  }
  await unlink(probe).catch(() => {});
}

/**
 * Runs `seqcast train`. Every flag, the output path and the data are checked
 * before the first step; a bad one throws a SeqcastError and nothing is
 * written. During training the best checkpoint so far is saved to `out`
 * (atomically) each time the validation loss improves. Returns the exit code.
 */
export async function runTrain(options: TrainOptions, io: TrainIo): Promise<number> {
  // a reader that goes away (`seqcast train … | head`) must not end the training
  io.stdout.on('error', () => {});
  const settings = checkUsage('train', () => settingsFrom(options));
  await checkWritable(options.out);
  const planOptions = {
    shape: settings.shape, window: settings.window, batch: settings.batch, valSplit: settings.valSplit, stride: settings.stride, delta: settings.delta, labelType: settings.labelType,
    sinks: settings.kind === 'recurrent' ? 0 : settings.sinks, carriesState: settings.kind !== 'transformer',
  };
  let plan: TrainingPlan;
  if (settings.text) {
    plan = planText(await readTextData(options.data), planOptions);
  } else {
    plan = planCsv(await readCsvData(options.data, { columns: settings.columns, label: settings.label, nan: settings.nan }), planOptions);
  }
  const { task } = plan;
  const training: Record<string, unknown> = {
    data: basename(options.data),
    task: settings.shape,
    window: task.window,
    batch: task.batch,
    optimizer: 'adam',
    lr: settings.lr,
    clip: settings.clip,
    seed: settings.seed,
    loss: task.loss,
    head: HEAD_AS_TRAINED,
  };
  const attention = settings.kind === 'recurrent' ? {} : {
    kind: settings.kind,
    width: settings.kind === 'transformer' ? settings.hidden : undefined,
    heads: settings.heads,
    blocks: settings.blocks,
    mlpSize: settings.mlp,
    window: settings.attentionWindow,
    sinks: settings.sinks,
    positional: settings.positional,
  };
  const model = await createModel({
    cell: settings.kind === 'transformer' ? undefined : settings.cell,
    nonlinearity: settings.nonlinearity,
    hiddenSize: settings.kind === 'transformer' ? undefined : settings.hidden,
    layers: settings.kind === 'transformer' ? undefined : settings.layers,
    embedSize: plan.spec.vocabSize && settings.kind !== 'transformer' ? settings.embed : undefined,
    ...attention,
    ...plan.spec,
    seed: settings.seed,
    metadata: { ...plan.metadata, training },
  });
  try {
    return await trainModel(model, plan, settings, options, io, training);
  } finally {
    model.close();
  }
}

async function trainModel(model: Model, plan: TrainingPlan, settings: Settings, options: TrainOptions, io: TrainIo, training: Record<string, unknown>): Promise<number> {
  const { task } = plan;
  const totalSteps = Math.min(settings.steps ?? Infinity, settings.epochs * task.stepsPerEpoch);
  const lossName = task.loss === 'ce' ? 'cross-entropy, nats' : 'MSE, normalized units';
  const progress = new Progress(io, options.quiet ?? false, totalSteps, settings.epochs, task.unit);
  progress.log(`training ${model.describe()}`);
  for (const note of plan.notes) progress.log(`  ${note}`);
  progress.log(
    `  ${task.stepsPerEpoch.toLocaleString('en-US')} steps per epoch of ${task.batch} windows × ${task.window} steps; Adam lr ${settings.lr}, clip ${settings.clip || 'off'}, seed ${settings.seed}; loss: ${lossName}`,
  );
  if (plan.baseline) progress.log(`  validation loss of ${plan.baseline.name}, for scale: ${fmtLoss(plan.baseline.loss)}`);
  progress.start();
  let saved = false;
  let summary;
  // Ctrl-C ends the run after the current step (the best checkpoint so far stays in --out); a second one exits at once
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  try {
    summary = await runTraining(model, task, { epochs: settings.epochs, patience: settings.patience, maxSteps: settings.steps, seed: settings.seed, lr: settings.lr, clip: settings.clip }, {
      onStep: (event) => progress.step(event),
      onBest: async (m, event) => {
        training.epochs = event.epoch;
        training.best_epoch = event.epoch;
        training[event.valLoss !== undefined ? 'val_loss' : 'train_loss'] = Number(event.monitored.toPrecision(6));
        await saveCheckpoint(m, options.out, plan.outputMap);
        saved = true;
      },
      onEpoch: (event) => progress.epoch(event, options.out),
      shouldStop: () => interrupted,
    });
  } finally {
    process.off('SIGINT', onSignal);
    progress.stop();
  }
  const rate = summary.units / Math.max(summary.trainSeconds, 1e-9);
  const how = summary.interrupted ? `interrupted in epoch ${summary.epochs}` : summary.stoppedEarly ? `stopped early after epoch ${summary.epochs} (no improvement for ${settings.patience})` : `${summary.epochs} epoch${summary.epochs === 1 ? '' : 's'}`;
  progress.log(
    `done: ${how}, ${summary.steps.toLocaleString('en-US')} steps, ${Math.round(rate).toLocaleString('en-US')} ${task.unit}/s in training steps` +
      (summary.refused ? `, ${summary.refused} steps refused (non-finite)` : ''),
  );
  progress.log(saved ? `best ${task.hasValidation ? 'validation' : 'training'} loss ${fmtLoss(summary.best)} (epoch ${summary.bestEpoch}) → ${options.out}` : `no checkpoint was written (the loss never became finite)`);
  if (summary.interrupted) return 130;
  return saved ? 0 : 1;
}
