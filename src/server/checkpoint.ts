// --state-dir: model weights (as learned online), their optimizer state and every stream's state, written atomically and read back on restart.
// The file format comes first; recordCheckpoint and restoreCheckpoint, at the end, take the server's state into it and back.
//
// A checkpoint is one generation g of files:
//   models/NAME.g<g>.safetensors   the weights (model.toSafetensors(): loadable as a model file)
//   models/NAME.g<g>.optimizer     Adam's step count and moments (exportOptimizerState), for models that learn online
//   streams.json                   every stream, and which files of which generation belong to it
// The model files are written first, each atomically; streams.json, written last and atomically, is the commit:
// a crash at any point leaves the previous streams.json naming the previous generation's files, which are only
// deleted once the new streams.json is in place.

import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isAtomicTempName, writeFileAtomic } from '../io/atomic-file.js';
import { describeFileError } from '../io/files.js';
import { readSafetensors } from '../model/safetensors.js';
import { SeqcastError } from '../errors.js';
import { checkEntryRecord, type EntryRecord } from '../stream/entry-record.js';
import { recordEntry, recordModel, restoreEntryState, restoreModelOptimizer } from '../stream/persist.js';
import type { ServedModel, StreamEntry } from '../stream/types.js';
import { cannotLearn, streamEntry } from './streams.js';

/** Version of streams.json this code writes; it reads this one and 1 (before online learning). */
export const CHECKPOINT_FORMAT = 2;

/** A checkpoint could not be written or read back. */
export class CheckpointError extends SeqcastError {
  constructor(message: string) {
    super('CHECKPOINT', message);
  }
}

/** One stream in streams.json (its fields are the stream layer's record of an entry). */
export type StreamRecord = EntryRecord;

/** One model in streams.json: its files of this generation, relative to the state directory. */
export interface ModelRecord {
  name: string;
  weights: string;
  optimizer?: string;
}

export interface StreamsFile {
  format: number;
  savedAt: string;
  /** Format 2: the generation of the files below. */
  generation?: number;
  models?: ModelRecord[];
  streams: StreamRecord[];
}

/** A model's bytes, taken at the checkpoint's moment. */
export interface ModelRecordBytes {
  name: string;
  weights: Uint8Array;
  optimizer?: Uint8Array;
}

/** Where a model's weights went in format 1. */
export function legacyWeightsPath(stateDir: string, modelName: string): string {
  return join(stateDir, 'models', `${encodeURIComponent(modelName)}.safetensors`);
}

/** A model's files of generation g, relative to the state directory. */
export function modelFiles(modelName: string, generation: number): { weights: string; optimizer: string } {
  const stem = `models/${encodeURIComponent(modelName)}.g${generation}`;
  return { weights: `${stem}.safetensors`, optimizer: `${stem}.optimizer` };
}

export function streamsPath(stateDir: string): string {
  return join(stateDir, 'streams.json');
}

/** Replaces `path` with `bytes` atomically (src/io/atomic-file.ts), creating its folder first. */
async function replaceFile(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, bytes);
}

/**
 * Writes generation `generation`: every model's files, then streams.json (the
 * commit), then deletes the model files of other generations. Everything was
 * taken at one moment by the caller, so the files agree with each other.
 */
export async function writeCheckpoint(stateDir: string, generation: number, models: ModelRecordBytes[], streams: StreamRecord[]): Promise<void> {
  const records: ModelRecord[] = [];
  for (const { name, weights, optimizer } of models) {
    const files = modelFiles(name, generation);
    await replaceFile(join(stateDir, files.weights), weights);
    if (optimizer) await replaceFile(join(stateDir, files.optimizer), optimizer);
    records.push({ name, weights: files.weights, ...(optimizer ? { optimizer: files.optimizer } : {}) });
  }
  const file: StreamsFile = { format: CHECKPOINT_FORMAT, savedAt: new Date().toISOString(), generation, models: records, streams };
  await replaceFile(streamsPath(stateDir), JSON.stringify(file));
  // older generations (and the temporary files of writes a crash interrupted) are no longer needed
  const keep = new Set(records.flatMap((r) => [r.weights, r.optimizer].filter((f): f is string => f !== undefined).map((f) => f.slice('models/'.length))));
  const folder = join(stateDir, 'models');
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    // `.tmp-<pid>-<ms>` names are the leftovers of versions before the one atomic writer
    if (!keep.has(name) && (isAtomicTempName(name) || /\.g\d+\.(safetensors|optimizer)(\.tmp-.*)?$/.test(name) || /\.tmp-\d+-\d+$/.test(name) || /\.safetensors$/.test(name))) {
      await unlink(join(folder, name)).catch(() => undefined);
    }
  }
  for (const name of await readdir(stateDir).catch(() => [] as string[])) {
    if (isAtomicTempName(name)) await unlink(join(stateDir, name)).catch(() => undefined);
  }
}

/**
 * Loads safetensors weights into `model`; refuses a corrupt file or weights of another shape, saying what to do.
 * False when the file does not exist (it was moved away: the model starts from its own file).
 */
export async function restoreWeights(path: string, name: string, model: ServedModel['model']): Promise<boolean> {
  const remedy = `move ${path} away to start model "${name}" from its model file (its streams are kept), or move the state directory away to start afresh`;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CheckpointError(`cannot read the checkpointed weights of model "${name}", ${path}: ${describeFileError(err)}`);
  }
  let file;
  try {
    file = readSafetensors(bytes, path);
  } catch (err) {
    if (!(err instanceof SeqcastError)) throw err;
    throw new CheckpointError(`the checkpointed weights of model "${name}" are corrupt: ${err.message}; ${remedy}`);
  }
  for (const tensor of model.layout) {
    const saved = file.tensors.get(tensor.name);
    if (!saved || saved.shape.join(',') !== tensor.shape.join(',')) {
      throw new CheckpointError(`${path} does not match model "${name}" (${model.describe()}): tensor ${tensor.name} is ${saved ? `[${saved.shape}]` : 'missing'}; ${remedy}`);
    }
    const bad = saved.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new CheckpointError(`${path}: tensor ${tensor.name} element ${bad} is ${saved.data[bad]}; weights must be finite; ${remedy}`);
  }
  for (const tensor of model.layout) model.setParameter(tensor.name, file.tensors.get(tensor.name)!.data);
  return true;
}

/** Reads a file of the checkpoint (an optimizer state). */
export async function readCheckpointFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Reads streams.json, or undefined when there is none yet. Format 1 files get their models from the legacy weight paths. */
export async function readCheckpoint(stateDir: string, modelNames: string[]): Promise<StreamsFile | undefined> {
  const path = streamsPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`);
    return undefined;
  }
  let file: StreamsFile;
  try {
    file = JSON.parse(text) as StreamsFile;
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    throw new CheckpointError(`${path} is ${JSON.stringify(file)}, not a checkpoint; move it away to start afresh`);
  }
  if ((file.format !== 1 && file.format !== CHECKPOINT_FORMAT) || !Array.isArray(file.streams)) {
    throw new CheckpointError(`${path} is checkpoint format ${JSON.stringify(file.format)}; this version reads 1 and ${CHECKPOINT_FORMAT}`);
  }
  if (file.format === 1) {
    file.generation = 0;
    file.models = [];
    for (const name of modelNames) {
      const weights = `models/${encodeURIComponent(name)}.safetensors`;
      const exists = await readFile(join(stateDir, weights)).then(() => true, () => false);
      if (exists) file.models.push({ name, weights });
    }
  }
  if (!Array.isArray(file.models) || !Number.isSafeInteger(file.generation)) throw new CheckpointError(`${path} lists no models or generation`);
  for (const record of file.models as unknown[]) {
    // a model's files are the ones this code names: nothing else in (or outside) the directory is read
    const { name, weights, optimizer } = (typeof record === 'object' && record !== null ? record : {}) as Partial<ModelRecord>;
    const files = typeof name === 'string' && file.format === CHECKPOINT_FORMAT ? modelFiles(name, file.generation!) : undefined;
    const legacy = typeof name === 'string' ? `models/${encodeURIComponent(name)}.safetensors` : undefined;
    if (typeof name !== 'string' || (weights !== files?.weights && weights !== legacy) || (optimizer !== undefined && optimizer !== files?.optimizer)) {
      throw new CheckpointError(`${path} lists a model as ${JSON.stringify(record)?.slice(0, 200)}; expected {"name", "weights": "models/NAME.g${file.generation}.safetensors"}; move the state directory away to start afresh`);
    }
  }
  return file;
}

// ---- the server's state into a checkpoint and back -------------------------------------------------------------------

/**
 * Writes generation `generation` of every model and stream to `stateDir`. Everything is taken synchronously, before
 * the first write, so weights, optimizers and streams are one consistent moment between two batches.
 */
export function recordCheckpoint(
  stateDir: string, generation: number, models: Iterable<ServedModel>, entries: Iterable<StreamEntry>, log: (line: string) => void = () => undefined,
): Promise<void> {
  // a stream whose state is not finite is recorded without it (and said so): nothing non-finite is written
  const records = [...entries].map((entry) => recordEntry(entry, log));
  const bytes: ModelRecordBytes[] = [...models].map(({ name, model }) => {
    try {
      return { name, ...recordModel(model) };
    } catch (err) {
      if (!(err instanceof SeqcastError)) throw err;
      throw new CheckpointError(`model "${name}": ${err.message}; this checkpoint is not written, the previous one stays`);
    }
  });
  return writeCheckpoint(stateDir, generation, bytes, records);
}

/** What restoreCheckpoint brought back: the generation to count on from, and the streams (parked, unheld). */
export interface RestoredState {
  generation: number;
  streams: StreamEntry[];
}

/**
 * Loads weights and optimizer states into `models` from the state directory, and returns its streams, parked and
 * unheld since `now` (ms, the server's clock), to be taken over by `open` or closed after the orphan TTL. Learning
 * streams continue bit for bit, training included. Undefined when the directory holds no checkpoint yet.
 * Throws CheckpointError, before anything is restored, for a directory it cannot write (checkStateDirWritable), an
 * unreadable streams.json or model weights; a stream record that cannot be restored is left out and logged, naming
 * the stream and streams.json, and the others start.
 */
export async function restoreCheckpoint(stateDir: string, models: ReadonlyMap<string, ServedModel>, now: number, log: (line: string) => void): Promise<RestoredState | undefined> {
  await checkStateDirWritable(stateDir);
  const file = await readCheckpoint(stateDir, [...models.keys()]);
  if (!file) return undefined;
  for (const record of file.models ?? []) {
    const served = models.get(record.name);
    if (!served) continue;
    if (!(await restoreWeights(join(stateDir, record.weights), record.name, served.model))) {
      log(`the checkpointed weights of model "${record.name}", ${join(stateDir, record.weights)}, are missing; it starts from its model file`);
      continue;
    }
    let how = '';
    if (record.optimizer) {
      const started = performance.now();
      try {
        restoreModelOptimizer(served.model, await readCheckpointFile(join(stateDir, record.optimizer)));
        how = ` and its optimizer state (${((performance.now() - started) / 1000).toFixed(1)} s)`;
      } catch (err) {
        if (!(err instanceof SeqcastError)) throw err;
        // the weights are what matters; learning goes on from fresh optimizer moments (not bit for bit)
        how = `, but not its optimizer state (${err.message}; learning goes on with fresh Adam moments)`;
      }
    }
    log(`restored the weights of model "${record.name}"${how} from ${stateDir}`);
  }
  const path = streamsPath(stateDir);
  const streams: StreamEntry[] = [];
  const names = new Set<string>();
  const ids = new Set<number>();
  file.streams.forEach((value: unknown, index) => {
    const entry = restoreStream(value, models, now, names, ids);
    if (typeof entry === 'string') {
      const name = (value as { name?: unknown } | null)?.name;
      const which = typeof name === 'string' ? JSON.stringify(name.slice(0, 200)) : `number ${index + 1}`;
      log(`checkpointed stream ${which} in ${path} ${entry}; left out, the other streams start`);
      return;
    }
    names.add(entry.name);
    ids.add(entry.id);
    streams.push(entry);
  });
  log(`restored ${streams.length} stream${streams.length === 1 ? '' : 's'} from ${stateDir} (saved ${file.savedAt})`);
  return { generation: file.generation ?? 0, streams };
}

/**
 * One record of streams.json → its stream entry (parked, unheld since `now`), or why it cannot be restored: a
 * corrupt record, a name or id taken by an earlier record, a model this server does not hold or that cannot learn,
 * state that does not fit the model. One stream's fault never stops the others.
 */
function restoreStream(value: unknown, models: ReadonlyMap<string, ServedModel>, now: number, names: Set<string>, ids: Set<number>): StreamEntry | string {
  let record: EntryRecord;
  try {
    record = checkEntryRecord(value);
  } catch (err) {
    if (!(err instanceof SeqcastError)) throw err;
    return `is corrupt (${err.message})`;
  }
  if (names.has(record.name)) return 'repeats the name of an earlier stream';
  if (ids.has(record.id)) return `repeats the id ${record.id} of an earlier stream`;
  const served = models.get(record.model);
  if (!served) return `is on model "${record.model}", which this server does not hold`;
  const whyNot = record.learning ? cannotLearn(served.model) : undefined;
  if (whyNot) return `learns, but model "${record.model}" cannot learn online: ${whyNot}`;
  let state;
  try {
    state = restoreEntryState(served, record);
  } catch (err) {
    return `cannot be restored (${err instanceof SeqcastError ? err.message : `unexpected error: ${(err as Error).message}`})`;
  }
  return streamEntry({
    name: record.name,
    id: record.id,
    served,
    lastSeq: record.lastSeq,
    horizon: record.horizon,
    ...state,
    owner: undefined,
    orphanedAt: now,
    lastActive: now,
  });
}

/**
 * Refuses a state directory the server cannot write (read-only, another owner's, not a directory) before it
 * starts: every checkpoint would fail, and what the streams learn would be lost at exit. Creates the directory and
 * its models/ folder when they are missing; writes and removes a probe file in each, as a checkpoint would.
 */
export async function checkStateDirWritable(stateDir: string): Promise<void> {
  for (const folder of [stateDir, join(stateDir, 'models')]) {
    const probe = join(folder, `.seqcast-write-check-${process.pid}`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFileAtomic(probe, 'seqcast checks that it can write here\n');
      await unlink(probe);
    } catch (err) {
      throw new CheckpointError(
        `cannot write to the state directory ${folder}: ${describeFileError(err)}; checkpoints would fail and what the streams learn would be lost. Give --state-dir a directory seqcast can write, or change its permissions`,
      );
    }
  }
}
