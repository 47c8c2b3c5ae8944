// The stream view's panels besides its time charts: an image stream's frames, a token stream's latest tokens, an attention
// model's heatmap. Each is built once into the view's figures and redrawn from the newest prediction.

import { card, element, setText } from './dom';
import { formatNumber } from './format';
import { drawGrayscale, drawHeatmap } from './pixels';
import type { PredictionMessage } from './protocol';

/** A panel the view redraws when a new prediction arrives. */
export interface ViewPanel {
  draw(latest: PredictionMessage): void;
}

/** The frame just received beside the predicted next one, and up to 8 forecast frames after it (rows × cols, 0 black … 1 white). */
export class FramesPanel implements ViewPanel {
  private readonly current: HTMLCanvasElement;
  private readonly predicted: HTMLCanvasElement;
  private readonly forecast: HTMLCanvasElement[];
  private readonly caption: HTMLElement;

  constructor(
    figures: HTMLElement,
    private readonly shape: [number, number],
    horizon: number,
  ) {
    const pair = element('div', 'frame-pair');
    const frame = (label: string, className: string) => {
      const figure = element('figure', className);
      const canvas = document.createElement('canvas');
      canvas.className = 'pixels';
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', label);
      const caption = element('figcaption', '', label);
      figure.append(canvas, caption);
      pair.append(figure);
      return { canvas, caption };
    };
    const current = frame('Current frame', 'frame current');
    const predicted = frame('Predicted next frame', 'frame predicted');
    const strip = element('div', 'forecast-frames');
    this.forecast = Array.from({ length: Math.min(Math.max(0, horizon - 1), 8) }, (_, i) => {
      const canvas = document.createElement('canvas');
      canvas.className = 'pixels small';
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `Forecast frame t+${i + 2}`);
      canvas.title = `t+${i + 2}`;
      strip.append(canvas);
      return canvas;
    });
    const body = element('div', 'frames-body');
    body.append(pair);
    if (this.forecast.length > 0) body.append(element('p', 'note', 'Forecast, further ahead:'), strip);
    figures.append(card(`Frames (${shape[0]}×${shape[1]})`, body, 'Left: the frame just received. Right: the model’s prediction of the next one.'));
    [this.current, this.predicted, this.caption] = [current.canvas, predicted.canvas, current.caption];
  }

  draw(latest: PredictionMessage): void {
    if (!Array.isArray(latest.actual)) return;
    drawGrayscale(this.current, latest.actual, this.shape);
    drawGrayscale(this.predicted, latest.predicted, this.shape);
    this.forecast.forEach((canvas, i) => {
      const row = latest.forecast?.[i + 1];
      if (row) drawGrayscale(canvas, row, this.shape);
    });
    setText(this.caption, `Current frame, seq ${latest.seq}`);
  }
}

/** A token stream's latest token, the most likely next one, and the cross-entropy of the last prediction. */
export class TokenPanel implements ViewPanel {
  private readonly text = element('p', 'token-panel');

  constructor(figures: HTMLElement) {
    figures.append(card('Tokens', this.text));
  }

  draw(latest: PredictionMessage): void {
    setText(this.text, `Latest token ${String(latest.actual)}; most likely next token ${latest.next ?? '–'}; cross-entropy ${formatNumber(latest.error)} nats.`);
  }
}

/** An attention model's latest weights, one row per head over the positions attended, oldest left; a note until some arrive. */
export class AttentionPanel implements ViewPanel {
  private readonly canvas = document.createElement('canvas');
  private readonly heads = element('ol', 'heatmap-heads');
  private readonly oldest = element('span', 'heatmap-oldest');
  private readonly plot = element('div', 'heatmap-plot');
  private readonly note = element(
    'p',
    'note',
    'No attention weights have arrived for this stream yet (predictions of attention models carry them in "attention", one row per head).',
  );

  constructor(figures: HTMLElement) {
    const canvas = this.canvas;
    canvas.className = 'pixels heatmap';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'Attention weights per head over the window');
    const axis = element('div', 'heatmap-axis');
    axis.append(this.oldest, element('span', 'heatmap-axis-name', 'positions attended'), element('span', '', 'newest →'));
    // the colour scale: each row is drawn from white (weight 0) to full colour (that head's largest weight)
    const scale = element('div', 'heatmap-scale');
    scale.append(element('span', '', '0'), element('span', 'heatmap-ramp'), element('span', '', 'the head’s largest weight (shown beside it)'));
    this.heads.setAttribute('aria-label', 'Heads');
    this.plot.append(this.heads, canvas, element('span', ''), axis);
    this.plot.hidden = true;
    const body = element('div', 'attention-body');
    body.append(this.plot, scale, this.note);
    figures.append(card('Attention', body, 'Latest position’s weights over the positions it attends, one row per head.'));
  }

  draw(latest: PredictionMessage): void {
    if (!latest.attention || latest.attention.length === 0) return;
    this.plot.hidden = false;
    this.note.hidden = true;
    drawHeatmap(this.canvas, latest.attention, [11, 95, 165]);
    const labels = latest.attention.map((weights, head) => `head ${head + 1} · max ${formatNumber(Math.max(...weights))}`);
    if (this.heads.children.length !== labels.length) this.heads.replaceChildren(...labels.map(() => element('li', '')));
    labels.forEach((label, i) => setText(this.heads.children[i], label));
    setText(this.oldest, `← oldest of ${Math.max(...latest.attention.map((h) => h.length))}`);
  }
}
