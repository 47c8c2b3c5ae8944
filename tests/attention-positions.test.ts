// Attention that holds at any stream position (issue 13 item 1): ALiBi by in-cache offset is the new models'
// default, recorded in the file's metadata with its format version; files without it load as before; a stream
// far past its training window computes what it computed near it, and keeps its loss; training windows show the
// model its sinks as far from the positions attending them as a stream's are.

import { describe, expect, it } from 'vitest';
import { createModel, loadModel, ModelFormatError, readSafetensors, writeSafetensors, type Model, type ModelSpec } from '../src/index.js';
import { diagnosticKernel } from '../src/kernel/diagnostics.js';
import { seededRandom } from '../src/model/init.js';
import { TbpttTextTask, WindowTask } from '../src/train/tasks.js';

const FRAMES: ModelSpec = { kind: 'transformer', inputSize: 2, width: 8, heads: 2, mlpSize: 6, blocks: 2, window: 4, sinks: 1, outputSize: 2, seed: 3 };
const HYBRID: ModelSpec = { kind: 'hybrid', cell: 'gru', inputSize: 2, hiddenSize: 6, heads: 3, mlpSize: 4, window: 3, outputSize: 2, seed: 4 };

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function frames(count: number, seed: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => [random() * 2 - 1, random() * 2 - 1]);
}

/** A model's file header: its tensors and its parsed seqcast metadata. */
function fileOf(model: Model) {
  const file = readSafetensors(model.toSafetensors(), 'model');
  return { tensors: [...file.tensors].map(([name, t]) => ({ name, ...t })), meta: JSON.parse(file.metadata.seqcast) as Record<string, unknown> };
}
const write = (tensors: ReturnType<typeof fileOf>['tensors'], meta: object) => writeSafetensors(tensors, { format: 'pt', seqcast: JSON.stringify(meta) });

describe('the positional scheme in a model file', () => {
  it('a new transformer or hybrid uses ALiBi, saved as positional "alibi" with metadata format 2, and loads back so', async () => {
    for (const spec of [FRAMES, HYBRID]) {
      const model = await createModel(spec);
      expect(model.arch.attention!.positional).toBe('alibi');
      const { meta } = fileOf(model);
      expect(meta).toMatchObject({ format: 2, positional: 'alibi' });
      const loaded = await loadModel(model.toSafetensors());
      expect(loaded.arch.attention!.positional).toBe('alibi');
      const a = model.openStream(), b = loaded.openStream();
      for (const x of frames(9, 1)) expect(bits(b.step(x))).toEqual(bits(a.step(x)));
    }
  });

  it('a file without "positional" (every file before format 2) loads as before: a transformer sinusoidal, a hybrid none; saved back as format 1', async () => {
    for (const [spec, legacy] of [[FRAMES, 'sinusoidal'], [HYBRID, 'none']] as const) {
      const model = await createModel({ ...spec, positional: legacy });
      const { tensors, meta } = fileOf(model);
      expect(meta).toMatchObject({ format: 1, positional: legacy });
      delete meta.positional;
      const old = await loadModel(write(tensors, meta));
      expect(old.arch.attention!.positional).toBe(legacy);
      expect(old.describe()).not.toMatch(/positions|positional/); // as it read before: snapshots hash it
      const a = model.openStream(), b = old.openStream();
      for (const x of frames(9, 2)) expect(bits(b.step(x))).toEqual(bits(a.step(x)));
    }
  });

  it('the schemes compute differently (the key is read, not ignored)', async () => {
    const alibi = await createModel(FRAMES);
    const sinusoidal = await createModel({ ...FRAMES, positional: 'sinusoidal' });
    const none = await createModel({ ...FRAMES, positional: 'none' });
    const [a, s, n] = [alibi, sinusoidal, none].map((m) => m.openStream());
    let differs = 0;
    for (const x of frames(6, 3)) {
      const [ya, ys, yn] = [a.step(x), s.step(x), n.step(x)];
      if (ya[0] !== ys[0] && ya[0] !== yn[0] && ys[0] !== yn[0]) differs++;
    }
    expect(differs).toBeGreaterThan(4);
  });

  it.each([
    ['an unknown scheme', { positional: 'rope' }, /seqcast metadata "positional" is "rope"; this version knows "alibi", "sinusoidal", "none"/],
    ['a scheme that is not a string', { positional: 2 }, /seqcast metadata "positional" is 2; this version knows/],
    ['null', { positional: null }, /seqcast metadata "positional" is null/],
    ['a newer metadata format', { format: 3 }, /format 3 is not supported \(this version reads 1 to 2\); the file was written by a newer seqcast: upgrade to load it/],
  ])('a transformer file with %s is refused, naming it', async (_, edit, pattern) => {
    const { tensors, meta } = fileOf(await createModel(FRAMES));
    const error = await loadModel(write(tensors, { ...meta, ...edit })).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(pattern);
  });

  it('a hybrid file that asks for sinusoidal positions is refused: it never had an absolute encoding', async () => {
    const { tensors, meta } = fileOf(await createModel(HYBRID));
    await expect(loadModel(write(tensors, { ...meta, positional: 'sinusoidal' }))).rejects.toThrow(/"positional" is "sinusoidal", but a hybrid's attention has no absolute positional encoding; use "alibi" or "none"/);
    await expect(createModel({ ...HYBRID, positional: 'sinusoidal' })).rejects.toThrow(/positional is "sinusoidal", but a hybrid/);
  });

  it('a spec whose metadata names another scheme than the spec is refused; a spec built from a loaded model\'s metadata keeps its scheme', async () => {
    await expect(createModel({ ...FRAMES, positional: 'alibi', metadata: { positional: 'sinusoidal' } })).rejects.toThrow(/seqcast metadata "positional" is "sinusoidal", but the model's attention uses "alibi"/);
    const legacy = await createModel({ ...FRAMES, positional: 'sinusoidal' });
    const copy = await createModel({ ...FRAMES, metadata: legacy.metadata });
    expect(copy.arch.attention!.positional).toBe('alibi'); // createModel's own metadata does not name one...
    const fromFile = await loadModel(legacy.toSafetensors());
    expect((await createModel({ ...FRAMES, metadata: fromFile.metadata })).arch.attention!.positional).toBe('sinusoidal'); // ...a file's does
  });
});

describe('an ALiBi stream far past its training window', () => {
  it('at position 10^7 computes bit for bit what the same cache computes at position 100 (a sinusoidal one does not)', async () => {
    for (const positional of ['alibi', 'sinusoidal'] as const) {
      const model = await createModel({ ...FRAMES, positional });
      const near = model.openStream();
      for (const x of frames(100, 4)) near.step(x);
      const snapshot = near.snapshot();
      new DataView(snapshot.buffer, snapshot.byteOffset).setFloat64(32, 1e7, true); // the position field
      const far = model.openStream();
      far.restore(snapshot);
      expect(far.position).toBe(1e7);
      let same = 0;
      const next = frames(20, 5);
      for (const x of next) if (bits(far.step(x)).join() === bits(near.step(x)).join()) same++;
      expect(same).toBe(positional === 'alibi' ? next.length : 0);
    }
  });

  it('keeps its loss: a sine transformer trained on 16-step windows predicts steps 160..176 as well as steps 16..32', async () => {
    const T = 16, wave = (t: number) => [Math.sin(0.45 * t), Math.cos(0.2 * t)];
    const lossOf = async (positional: 'alibi' | 'sinusoidal') => {
      const model = await createModel({ ...FRAMES, window: 8, sinks: 1, positional, seed: 7 });
      model.optimizer({ kind: 'adam', lr: 0.01, clipNorm: 1 });
      const random = seededRandom(11);
      for (let step = 0; step < 250; step++) {
        const windows = Array.from({ length: 8 }, () => {
          const start = Math.floor(random() * 400);
          return { inputs: Array.from({ length: T }, (_, t) => wave(start + t)), targets: Array.from({ length: T }, (_, t) => wave(start + t + 1)) };
        });
        model.trainBatch(windows);
      }
      const stream = model.openStream({ raw: true });
      const squared: number[] = [];
      for (let t = 0; t < 11 * T; t++) {
        const y = stream.step(wave(t)), target = wave(t + 1);
        squared.push(((y[0] - target[0]) ** 2 + (y[1] - target[1]) ** 2) / 2);
      }
      const mean = (from: number, to: number) => squared.slice(from, to).reduce((a, v) => a + v, 0) / (to - from);
      return { early: mean(T, 2 * T), late: mean(10 * T, 11 * T) };
    };
    // measured: ALiBi 0.0128 then 0.0085 (a full window of context); sinusoidal 0.031 then 1.22
    const alibi = await lossOf('alibi');
    expect(alibi.early).toBeLessThan(0.02);
    expect(alibi.late).toBeLessThan(1.5 * alibi.early + 1e-4);
    // the same training with absolute positions: the stream has left the positions it was trained on
    const sinusoidal = await lossOf('sinusoidal');
    expect(sinusoidal.late).toBeGreaterThan(3 * sinusoidal.early);
  });
});

describe('training windows show an attention model its sinks as a stream does', () => {
  // positions whose input is their own index, so a window shows where each row came from
  const positions = (count: number) => ({ count, input: (t: number) => Float32Array.of(t), target: (t: number) => Float32Array.of(t + 1) });

  it('a many-to-many window with S sinks begins with S rows from elsewhere, then T − S contiguous rows; without sinks it is contiguous', () => {
    for (const sinks of [0, 2]) {
      const task = new WindowTask('many-to-many', 'mse', 'frames', positions(500), undefined, 8, 4, 8, 1, sinks);
      task.startEpoch(seededRandom(1));
      let far = 0;
      for (const window of task.windows(0)) {
        const at = (window.inputs as Float32Array[]).map((x) => x[0]);
        const targets = (window.targets as Float32Array[]).map((y) => y[0]);
        at.forEach((x, t) => expect(targets[t]).toBe(x + 1)); // every row keeps its own target
        for (let t = sinks + 1; t < 8; t++) expect(at[t]).toBe(at[t - 1] + 1); // the rows after the sinks
        if (sinks > 0) {
          expect(at[1]).toBe(at[0] + 1); // the sinks are contiguous among themselves...
          if (at[sinks] !== at[sinks - 1] + 1) far++; // ...and elsewhere than the rows after them
        }
      }
      if (sinks > 0) expect(far).toBeGreaterThan(2);
    }
  });

  it('a transformer\'s text chunks after the first begin with their row\'s first S characters', () => {
    const ids = Int32Array.from({ length: 401 }, (_, i) => i);
    const task = new TbpttTextTask(ids, undefined, 10, 4, 3);
    task.startEpoch();
    const [first] = task.windows(0), [later] = task.windows(2);
    expect(Array.from(first.inputs as Int32Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(later.inputs as Int32Array)).toEqual([0, 1, 2, 23, 24, 25, 26, 27, 28, 29]);
    expect(Array.from(later.targets as Int32Array)).toEqual([1, 2, 3, 24, 25, 26, 27, 28, 29, 30]);
  });
});

describe('configurePositional at the ABI edge', () => {
  it('takes a scheme the model can have, refuses any other with ERR_BAD_CONFIG and changes nothing', async () => {
    const hybrid = await diagnosticKernel();
    expect(hybrid.configurePositional(2)).toBe(-1); // ERR_NOT_CONFIGURED
    expect(hybrid.configureHybrid(1, 1, 2, 0, 6, 3, 4, 1, 3, 0, 2, 1, 1)).toBe(0);
    expect(hybrid.getPositional()).toBe(1); // POSITIONAL_NONE, a hybrid's default
    for (const bad of [0, 3, -1]) expect(hybrid.configurePositional(bad)).toBe(-3); // sinusoidal on a hybrid, unknown
    expect(hybrid.getPositional()).toBe(1);
    expect(hybrid.configurePositional(2)).toBe(0);
    expect(hybrid.getPositional()).toBe(2);
    const transformer = await diagnosticKernel();
    expect(transformer.configureTransformer(2, 0, 8, 2, 6, 1, 4, 1, 2, 1, 1)).toBe(0);
    expect(transformer.getPositional()).toBe(0); // POSITIONAL_SINUSOIDAL, as every host before it got
    for (const scheme of [1, 2, 0]) expect(transformer.configurePositional(scheme)).toBe(0);
    const recurrent = await diagnosticKernel();
    expect(recurrent.configure(1, 1, 2, 0, 4, 2, 1, 1)).toBe(0);
    expect(recurrent.configurePositional(2)).toBe(-3);
  });
});
