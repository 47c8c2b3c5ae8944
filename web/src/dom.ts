// Small DOM builders the stream view and its panels share.

/** A `tag` element with `className` and, if given, its text. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(text: string, className: string): HTMLButtonElement {
  const node = element('button', className, text);
  node.type = 'button';
  return node;
}

/** A titled figure around `body`, with an optional caption under the title. */
export function card(title: string, body: HTMLElement, caption?: string): HTMLElement {
  const figure = element('figure', 'card');
  const heading = element('figcaption', 'card-title');
  heading.append(element('span', 'card-name', title));
  if (caption) heading.append(element('span', 'card-caption', caption));
  figure.append(heading, body);
  return figure;
}

/** Sets `node`'s text only when it changes (no layout work for the same text). */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
