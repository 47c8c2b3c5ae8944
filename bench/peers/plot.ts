// The peer benchmark's plot, bench/results.svg: W1 against H, and W2 / W3, per library.

import { fmtUs, type Machine } from '../common.js';
import { SIZES, W2_STREAMS, W3_LENGTH, type Measured, type Workload } from './workloads.js';

const PALETTE: Record<string, string> = {
  seqcast: '#d62728',
  'seqcast-relaxed': '#e377c2',
  'tfjs-cpu': '#ff7f0e',
  'tfjs-wasm': '#bcbd22',
  'onnxruntime-node': '#1f77b4',
  'onnxruntime-web': '#17becf',
  'brain.js': '#9467bd',
  naive: '#7f7f7f',
};

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Two panels: W1 µs per step vs H (log–log lines), and W2 / W3 µs per stream-step (log-scale bars). */
export function plotSvg(results: Measured[], machine: Machine): string {
  const width = 980, height = 460;
  const top = 70, bottom = 384; // plot area y range
  const all = results.map((r) => r.medianUs);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all)))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const y = (us: number) => bottom - ((Math.log10(us) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  const ids = Object.keys(PALETTE).filter((id) => results.some((r) => r.id === id));
  const nameOf = (id: string) => {
    const r = results.find((x) => x.id === id)!;
    return id === 'seqcast' ? 'seqcast' : id === 'seqcast-relaxed' ? 'seqcast (relaxed SIMD)' : id === 'naive' ? 'plain TypeScript' : id === 'tfjs-cpu' ? 'tfjs (cpu)' : id === 'tfjs-wasm' ? 'tfjs-backend-wasm' : r.library;
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">seqcast vs peers: median µs per stream-step (log scale, lower is better)</text>`);
  out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}; one thread each`)}</text>`);

  const axis = (x0: number, x1: number) => {
    for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
      const v = Math.pow(10, e), yy = y(v).toFixed(1);
      out.push(`<line x1="${x0}" y1="${yy}" x2="${x1}" y2="${yy}" stroke="#ddd"/>`);
      out.push(`<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#333">${v >= 1 ? v.toLocaleString('en-US') : v}</text>`);
    }
    out.push(`<line x1="${x0}" y1="${top}" x2="${x0}" y2="${bottom}" stroke="#333"/>`);
    out.push(`<line x1="${x0}" y1="${bottom}" x2="${x1}" y2="${bottom}" stroke="#333"/>`);
  };

  // panel 1: W1 lines
  const p1x0 = 70, p1x1 = 470;
  axis(p1x0, p1x1);
  out.push(`<text x="${(p1x0 + p1x1) / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">W1: one stream, one step per call</text>`);
  out.push(`<text transform="translate(18 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">µs per step</text>`);
  const xH = (H: number) => p1x0 + 40 + ((Math.log2(H) - Math.log2(SIZES[0])) / (Math.log2(SIZES[SIZES.length - 1]) - Math.log2(SIZES[0]))) * (p1x1 - p1x0 - 80);
  for (const H of SIZES) out.push(`<text x="${xH(H).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">H=${H}</text>`);
  for (const id of ids) {
    const pts = SIZES.map((H) => results.find((r) => r.workload === 'W1' && r.hidden === H && r.id === id)).filter((r): r is Measured => r !== undefined);
    if (pts.length === 0) continue;
    const color = PALETTE[id];
    const dash = pts.some((p) => p.agreement.status !== 'agrees') ? ' stroke-dasharray="5 3"' : '';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="${id === 'seqcast' ? 3 : 2}"${dash} points="${pts.map((p) => `${xH(p.hidden).toFixed(1)},${y(p.medianUs).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${xH(p.hidden).toFixed(1)}" cy="${y(p.medianUs).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${nameOf(id)} W1 H=${p.hidden}: ${fmtUs(p.medianUs)} µs`)}</title></circle>`);
  }

  // panel 2: W2 and W3 bars
  const p2x0 = 560, p2x1 = 960;
  axis(p2x0, p2x1);
  out.push(`<text x="${(p2x0 + p2x1) / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">W2 (${W2_STREAMS} streams) and W3 (T=${W3_LENGTH}), H=128</text>`);
  const groups: [Workload, string][] = [['W2', `W2: ${W2_STREAMS} streams per call`], ['W3', `W3: sequence per call`]];
  const gw = (p2x1 - p2x0) / groups.length;
  groups.forEach(([w, label], gi) => {
    const rows = ids.map((id) => results.find((r) => r.workload === w && r.id === id)).filter((r): r is Measured => r !== undefined);
    const bw = Math.min(24, (gw - 30) / Math.max(1, rows.length));
    const gx = p2x0 + gi * gw + (gw - bw * rows.length) / 2;
    rows.forEach((r, k) => {
      const yy = y(r.medianUs);
      const hatch = r.agreement.status !== 'agrees' ? ' fill-opacity="0.45"' : '';
      out.push(`<rect x="${(gx + k * bw).toFixed(1)}" y="${yy.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(bottom - yy).toFixed(1)}" fill="${PALETTE[r.id]}"${hatch}><title>${escapeXml(`${nameOf(r.id)} ${w}: ${fmtUs(r.medianUs)} µs per stream-step`)}</title></rect>`);
    });
    out.push(`<text x="${(p2x0 + gi * gw + gw / 2).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${escapeXml(label)}</text>`);
  });

  // legend
  ids.forEach((id, k) => {
    const lx = 70 + (k % 4) * 225, ly = bottom + 42 + Math.floor(k / 4) * 18;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="10" fill="${PALETTE[id]}"/>`);
    out.push(`<text x="${lx + 20}" y="${ly}">${escapeXml(nameOf(id))}</text>`);
  });
  out.push(`<text x="${width - 10}" y="${height - 8}" text-anchor="end" fill="#777" font-size="10">dashed / faded: outputs match seqcast only for one step from zero state (brain.js); written by bench/peers.ts</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
