// --state-dir: model weights and every stream's state, written atomically and read back on restart.

import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Model } from '../api/model.js';
import { readSafetensors } from '../model/safetensors.js';
import { SeqcastError } from '../errors.js';
import type { OnlineNormalizerState } from '../stream/normalize.js';
import type { ErrorScorerState } from '../stream/score.js';
import type { NormalizeMode } from '../stream/types.js';

/** Version of streams.json this code writes and reads. */
export const CHECKPOINT_FORMAT = 1;

/** A checkpoint could not be written or read back. */
export class CheckpointError extends SeqcastError {
  constructor(message: string) {
    super('CHECKPOINT', message);
  }
}

/** One stream in streams.json. */
export interface StreamRecord {
  name: string;
  id: number;
  model: string;
  lastSeq: number;
  horizon: number;
  learn: boolean;
  normalize: NormalizeMode;
  /** Stream.snapshot() bytes, base64; absent for a stream never stepped. */
  snapshot?: string;
  normalizer?: OnlineNormalizerState;
  scorer: ErrorScorerState;
}

export interface StreamsFile {
  format: number;
  savedAt: string;
  streams: StreamRecord[];
}

/** Where a model's weights go in the state directory. */
export function weightsPath(stateDir: string, modelName: string): string {
  return join(stateDir, 'models', `${encodeURIComponent(modelName)}.safetensors`);
}

export function streamsPath(stateDir: string): string {
  return join(stateDir, 'streams.json');
}

/**
 * Replaces `path` with `bytes` so that a crash leaves either the old file or
 * the new one, never a mix: write a temporary file beside it, fsync it, rename
 * it over the old one, fsync the folder so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(temp, path);
  const folder = await open(dirname(path), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** Writes the weights of every model, then streams.json (so streams never refer to weights older than they were stepped with). */
export async function writeCheckpoint(stateDir: string, models: { name: string; model: Model }[], streams: StreamRecord[]): Promise<void> {
  for (const { name, model } of models) await writeFileAtomic(weightsPath(stateDir, name), model.toSafetensors());
  const file: StreamsFile = { format: CHECKPOINT_FORMAT, savedAt: new Date().toISOString(), streams };
  await writeFileAtomic(streamsPath(stateDir), JSON.stringify(file));
}

/** Loads saved weights into `model` when the state directory has them; refuses weights of another shape. Returns whether it did. */
export async function restoreWeights(stateDir: string, name: string, model: Model): Promise<boolean> {
  const path = weightsPath(stateDir, name);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const file = readSafetensors(bytes, path);
  for (const tensor of model.layout) {
    const saved = file.tensors.get(tensor.name);
    if (!saved || saved.shape.join(',') !== tensor.shape.join(',')) {
      throw new CheckpointError(`${path} does not match model "${name}" (${model.describe()}): tensor ${tensor.name} is ${saved ? `[${saved.shape}]` : 'missing'}; move the state directory away to start afresh`);
    }
  }
  for (const tensor of model.layout) model.setParameter(tensor.name, file.tensors.get(tensor.name)!.data);
  return true;
}

/** Reads streams.json, or undefined when there is none yet. */
export async function readStreams(stateDir: string): Promise<StreamsFile | undefined> {
  const path = streamsPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let file: StreamsFile;
  try {
    file = JSON.parse(text) as StreamsFile;
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (file.format !== CHECKPOINT_FORMAT || !Array.isArray(file.streams)) {
    throw new CheckpointError(`${path} is checkpoint format ${JSON.stringify(file.format)}; this version reads ${CHECKPOINT_FORMAT}`);
  }
  return file;
}
