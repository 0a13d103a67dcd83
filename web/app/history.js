// A virtualized, bottom-anchored list for chat history: only the items in and near the
// viewport are in the DOM, so a chat with 10,000 messages costs what a chat with 30 does.
// Heights are measured once an item has been rendered and estimated before.

/**
 * @typedef {object} Item
 * @property {string} key stable identity (a message id, a day)
 * @property {string} version changes when the item must be rendered again (an edit, a read mark)
 */

/**
 * @template {Item} T
 * @typedef {object} ListOptions
 * @property {(item: T) => HTMLElement} render
 * @property {(item: T) => number} estimate height before measuring
 * @property {() => void} [nearTop] called when the user scrolls close to the first item
 * @property {() => void} [atBottom] called when the user reaches the last item
 */

/** Pixels rendered beyond the viewport on each side. */
const OVERSCAN = 800;
/** How close to the end counts as "at the bottom" (new messages keep it there). */
const STICK = 48;

/** @template {Item} T */
export class VirtualList {
  /**
   * @param {HTMLElement} scroller the element that scrolls
   * @param {ListOptions<T>} options
   */
  constructor(scroller, options) {
    this.scroller = scroller;
    this.options = options;
    /** @type {T[]} */
    this.items = [];
    /** @type {Map<string, number>} */
    this.heights = new Map();
    /** @type {Map<string, {version: string, el: HTMLElement}>} */
    this.nodes = new Map();
    this.top = document.createElement('div');
    this.body = document.createElement('div');
    this.bottom = document.createElement('div');
    this.body.className = 'vlist-body';
    scroller.replaceChildren(this.top, this.body, this.bottom);
    /** Follow new items at the end. */
    this.stuck = true;
    /** @type {number[]} offsets[i] = top of item i; offsets[n] = total height */
    this.offsets = [0];
    this.scheduled = false;
    scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    new ResizeObserver(() => this.layout()).observe(scroller);
  }

  onScroll() {
    const s = this.scroller;
    this.stuck = s.scrollHeight - s.scrollTop - s.clientHeight < STICK;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.layout();
      if (this.scroller.scrollTop < OVERSCAN) this.options.nearTop?.();
      if (this.stuck) this.options.atBottom?.();
    });
  }

  /**
   * Replaces the items; what the user was looking at stays in place (or the view stays at
   * the bottom if it was there).
   * @param {T[]} items
   */
  setItems(items) {
    this.items = items;
    this.layout();
  }

  /** Jumps to the newest item. */
  scrollToBottom() {
    this.stuck = true;
    this.layout();
  }

  computeOffsets() {
    const n = this.items.length;
    const offsets = new Array(n + 1);
    offsets[0] = 0;
    for (let i = 0; i < n; i++) {
      const item = this.items[i];
      offsets[i + 1] = offsets[i] + (this.heights.get(item.key) ?? this.options.estimate(item));
    }
    this.offsets = offsets;
  }

  /**
   * The first index whose item ends below `y`.
   * @param {number} y
   */
  indexAt(y) {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1] <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  layout() {
    const s = this.scroller;
    // The anchor: the first item visible now, and how far from the top of the view it is.
    /** @type {{key: string, delta: number} | null} */
    let anchor = null;
    if (!this.stuck) {
      for (const [key, node] of this.nodes) {
        if (!node.el.isConnected) continue;
        const delta = node.el.offsetTop - s.scrollTop;
        if (delta + node.el.offsetHeight > 0 && (anchor === null || delta < anchor.delta)) anchor = { key, delta };
      }
    }
    for (let pass = 0; pass < 4; pass++) {
      this.computeOffsets();
      let scrollTop = s.scrollTop;
      const total = this.offsets[this.items.length];
      if (this.stuck) scrollTop = Math.max(0, total - s.clientHeight);
      else if (anchor) {
        const i = this.items.findIndex((it) => it.key === anchor?.key);
        if (i >= 0) scrollTop = this.offsets[i] - anchor.delta;
      }
      const first = this.indexAt(Math.max(0, scrollTop - OVERSCAN));
      const last = Math.min(this.items.length, this.indexAt(scrollTop + s.clientHeight + OVERSCAN) + 1);
      const changed = this.renderRange(first, last);
      if (s.scrollTop !== scrollTop) s.scrollTop = scrollTop;
      if (!changed) break;
    }
    if (this.stuck && s.scrollTop + s.clientHeight < s.scrollHeight - 1) s.scrollTop = s.scrollHeight;
  }

  /**
   * Puts items [first, last) in the DOM and measures them.
   * @param {number} first
   * @param {number} last
   * @returns {boolean} whether a measured height differed from what was assumed
   */
  renderRange(first, last) {
    /** @type {HTMLElement[]} */
    const els = [];
    /** @type {Set<string>} */
    const keep = new Set();
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      let node = this.nodes.get(item.key);
      if (!node || node.version !== item.version) {
        node = { version: item.version, el: this.options.render(item) };
        this.nodes.set(item.key, node);
      }
      keep.add(item.key);
      els.push(node.el);
    }
    for (const key of this.nodes.keys()) if (!keep.has(key)) this.nodes.delete(key);
    // Replace the children only when they differ, so focus and selection survive scrolling.
    const current = this.body.children;
    let same = current.length === els.length;
    for (let i = 0; same && i < els.length; i++) same = current[i] === els[i];
    if (!same) this.body.replaceChildren(...els);
    this.top.style.height = `${this.offsets[first]}px`;
    this.bottom.style.height = `${this.offsets[this.items.length] - this.offsets[last]}px`;
    let changed = false;
    for (let i = first; i < last; i++) {
      const key = this.items[i].key;
      const h = els[i - first].offsetHeight;
      if (h > 0 && this.heights.get(key) !== h) {
        if ((this.heights.get(key) ?? this.offsets[i + 1] - this.offsets[i]) !== h) changed = true;
        this.heights.set(key, h);
      }
    }
    return changed;
  }

  /** How many items are in the DOM (tests check that this stays small). */
  get rendered() {
    return this.body.children.length;
  }
}
