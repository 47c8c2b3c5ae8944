// Attention models' positional schemes against PyTorch: files made by the module docs/model-format.md spells out
// (scripts/make-positional-fixtures.py runs that very code block, torch 1.13), loaded as a PyTorch user saves them,
// streamed past window + sinks (eviction, sinks at their cached offsets) and trained over one window (BPTT), every
// output and gradient within the fixture's tolerance.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel, type LossKind } from '../src/index.js';
import { expectClose } from './helpers/golden.js';

const FIXTURES = new URL('./fixtures/positional/', import.meta.url);

interface Tensor { shape: number[]; dtype: string; data: number[] }
interface Fixture {
  config: { positional: string; window: number; sinks: number; loss: LossKind };
  inputs: { stream: Tensor; window: Tensor; targets: Tensor };
  outputs: Record<string, Tensor>;
  tolerance: Record<string, { abs: number; rel: number }>;
}

const rows = ({ shape, data }: Tensor): number[][] => {
  const width = shape.slice(1).reduce((a, d) => a * d, 1);
  return Array.from({ length: shape[0] }, (_, t) => data.slice(t * width, (t + 1) * width));
};
/** Token ids ([T], int32) as they are; frames ([T, X]) as rows. */
const sequence = (t: Tensor): (number | number[])[] => (t.dtype === 'int32' ? t.data : rows(t));

const CASES = ['alibi_frame_transformer', 'alibi_token_transformer', 'alibi_hybrid_lstm', 'sinusoidal_frame_transformer', 'none_token_hybrid_gru'];

describe.each(CASES)('PyTorch module of docs/model-format.md: %s', (name) => {
  const fixture = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Fixture;
  const file = fileURLToPath(new URL(`${name}.safetensors`, FIXTURES));

  it('loads with the scheme its metadata names', async () => {
    const model = await loadModel(file);
    expect(model.arch.attention!.positional).toBe(fixture.config.positional);
    model.close();
  });

  it(`streams ${fixture.inputs.stream.shape[0]} steps (past window ${fixture.config.window} + ${fixture.config.sinks} sinks) with PyTorch's outputs`, async () => {
    const model = await loadModel(file);
    const stream = model.openStream({ raw: true });
    const expected = rows(fixture.outputs.y);
    sequence(fixture.inputs.stream).forEach((x, t) => {
      const y = typeof x === 'number' ? stream.step(x) : stream.stepModelUnits(x);
      expectClose(y, expected[t], fixture.tolerance.y, `${name} y[${t}]`);
    });
    model.close();
  });

  it('trains over one window with PyTorch\'s loss and every gradient (BPTT)', async () => {
    const model = await loadModel(file);
    const inputs = sequence(fixture.inputs.window);
    const targets = sequence(fixture.inputs.targets);
    const result = model.backward(inputs as number[] & number[][], targets as number[] & number[][], { loss: fixture.config.loss });
    expectClose([result.loss], fixture.outputs.loss.data, fixture.tolerance.loss, `${name} loss`);
    expectClose(result.outputs.flatMap((r) => Array.from(r)), fixture.outputs.train_outputs.data, fixture.tolerance.train_outputs, `${name} train_outputs`);
    const names = Object.keys(fixture.outputs).filter((k) => k.startsWith('grad/'));
    expect(names.length).toBe(model.parameterNames.length + (model.isTokenModel ? 0 : 1));
    // the fixture's grad/<param> is the kernel's gradient by parameter name; grad/x keeps its name
    for (const key of names) {
      const gradient = result.gradients[key === 'grad/x' ? key : key.slice('grad/'.length)];
      expectClose(gradient, fixture.outputs[key].data, fixture.tolerance[key], `${name} ${key}`);
    }
    model.close();
  });
});
