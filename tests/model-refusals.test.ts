// What users bring that seqcast cannot run is refused naming what is wrong: a bidirectional PyTorch model by its
// `*_reverse` tensors (not by its head's shape, which only follows from them), a head with a bias and no weight by
// the missing tensor. And what a save keeps of a file's `__metadata__` (docs/model-format.md, "What a save keeps").

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createModel, loadModel, ModelFormatError, readSafetensors, writeSafetensors } from '../src/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/pytorch/${name}.safetensors`, import.meta.url));

/** The tensors of a safetensors file, for writing it back changed. */
function tensorsOf(bytes: Uint8Array) {
  return [...readSafetensors(bytes, 'test').tensors].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }));
}

async function refusal(load: Promise<unknown>): Promise<string> {
  const err = await load.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelFormatError);
  return (err as Error).message;
}

describe('a bidirectional PyTorch model (bidirectional=True, made with PyTorch 1.13 by scripts/make-relu-fixtures.py)', () => {
  it('with a head over both directions is refused naming its _reverse tensors, not head.weight\'s shape', async () => {
    const path = fixture('lstm_bidirectional_head');
    const message = await refusal(loadModel(path));
    expect(message).toBe(
      `${path}: tensors "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse", "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse" are the backward direction of a bidirectional lstm (bidirectional=True), ` +
        'which reads each sequence from its end as well; a live stream is stepped as its values arrive, so seqcast runs one direction only. Train the model with bidirectional=False',
    );
    expect(message).not.toContain('head.weight');
  });

  it('saved bare (an nn.GRU on its own) is refused the same way', async () => {
    const message = await refusal(loadModel(fixture('gru_bidirectional_bare')));
    expect(message).toContain('tensors "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse" are the backward direction of a bidirectional recurrent module (bidirectional=True)');
  });

  it('of two layers and no head names four _reverse tensors and counts the rest', async () => {
    const message = await refusal(loadModel(fixture('rnn_bidirectional_2layer')));
    expect(message).toContain('tensors "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse" and 4 more are the backward direction of a bidirectional rnn');
  });

  it('is refused by name even with its forward tensors removed', async () => {
    const bytes = readFileSync(fixture('lstm_bidirectional_head'));
    const onlyReverse = tensorsOf(bytes).filter((t) => t.name.endsWith('_reverse'));
    const message = await refusal(loadModel(writeSafetensors(onlyReverse, { format: 'pt' })));
    expect(message).toContain('"lstm.weight_ih_l0_reverse"');
    expect(message).toContain('bidirectional=False');
  });
});

describe('a head with head.bias and no head.weight', () => {
  it('says which tensor is missing and the shape it should have', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 5, outputSize: 2, seed: 1 });
    const withoutWeight = tensorsOf(model.toSafetensors()).filter((t) => t.name !== 'head.weight');
    const message = await refusal(loadModel(writeSafetensors(withoutWeight, { format: 'pt' })));
    expect(message).toBe('<model bytes>: missing tensor "head.weight" (expected shape [2, 5]): the file has "head.bias" (shape [2]), and a head (nn.Linear) needs both');
  });

  it('on a transformer says the same, with the model width as the head\'s input', async () => {
    const model = await createModel({ kind: 'transformer', inputSize: 2, width: 6, heads: 2, window: 4, outputSize: 3, seed: 1 });
    const bytes = model.toSafetensors();
    const withoutWeight = tensorsOf(bytes).filter((t) => t.name !== 'head.weight');
    const message = await refusal(loadModel(writeSafetensors(withoutWeight, readSafetensors(bytes, 'test').metadata)));
    expect(message).toBe('<model bytes>: missing tensor "head.weight" (expected shape [3, 6]): the file has "head.bias" (shape [3]), and a head (nn.Linear) needs both');
  });
});

describe('what a save keeps of __metadata__', () => {
  it('format "pt" and the seqcast JSON with every key, unknown ones included; other top-level keys are dropped', async () => {
    const made = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 2 });
    const seqcast = { format: 1, channels: ['temp', 'flow'], target: 'delta', nonsense: { kept: [1, 2] } };
    const file = writeSafetensors(tensorsOf(made.toSafetensors()), { format: 'pt', author: 'someone', seqcast: JSON.stringify(seqcast) });
    const saved = readSafetensors((await loadModel(file)).toSafetensors(), 'saved');
    expect(Object.keys(saved.metadata).sort()).toEqual(['format', 'seqcast']);
    expect(saved.metadata.format).toBe('pt');
    expect(JSON.parse(saved.metadata.seqcast)).toEqual(seqcast);
  });

  it('adds seqcast.format (2 where a format-1 reader would run the file wrong: ALiBi, a relu rnn), the attention keys of an attention model, and a relu rnn\'s nonlinearity', async () => {
    const transformer = await createModel({ kind: 'transformer', inputSize: 2, width: 6, heads: 2, window: 4, sinks: 1, seed: 1 });
    expect(JSON.parse(readSafetensors(transformer.toSafetensors(), 't').metadata.seqcast)).toMatchObject({ format: 2, kind: 'transformer', heads: 2, window: 4, sinks: 1, positional: 'alibi' });
    const relu = await createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(JSON.parse(readSafetensors(relu.toSafetensors(), 'r').metadata.seqcast)).toEqual({ nonlinearity: 'relu', format: 2 });
  });
});
