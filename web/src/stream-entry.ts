// A stream's entry as the dashboard keeps it, shaped by its model: value channels, image frames or tokens, attention, labelled windows.

import type { LabelledWindows } from './overlays';
import { imageShape } from './pixels';
import type { ListedModel, ListedStream, PredictionMessage } from './protocol';
import { MAX_CHART_CHANNELS, StreamSeries } from './stream-series';
import type { StreamEntry } from './view-context';

/**
 * The entry of stream `name`, built once when the page first sees it: from its `list` row and model, or, for a stream
 * not listed yet, from its first prediction. `labels` are the served labelled windows for that name, kept only when
 * they are for this model.
 */
export function streamEntry(
  name: string,
  listed: ListedStream | undefined,
  model: ListedModel | undefined,
  first: PredictionMessage | undefined,
  labels: (LabelledWindows & { model?: string }) | undefined,
): StreamEntry {
  const shape = imageShape(model, listed);
  const kind = model?.vocabSize !== undefined ? 'tokens' : shape ? 'image' : 'values';
  const channelTotal = kind === 'values' ? (model?.inputSize ?? (Array.isArray(first?.actual) ? first.actual.length : 1)) : 0;
  const channels = Array.from({ length: Math.min(channelTotal, MAX_CHART_CHANNELS) }, (_, c) => model?.channels?.[c] ?? `channel ${c}`);
  return {
    name,
    listed,
    model,
    series: new StreamSeries(channels.length),
    kind,
    shape,
    channels,
    channelTotal,
    attentionModel: model !== undefined && (model.kind === 'transformer' || model.kind === 'hybrid' || model.cell === undefined),
    labelled: labels && (labels.model === undefined || labels.model === model?.name) ? labels : undefined,
  };
}
