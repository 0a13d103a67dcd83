// A virtualized, bottom-anchored list for chat history: only the items in and near the
// viewport are in the DOM, so a chat with 10,000 messages costs what a chat with 30 does.
// Each item is a Preact tree rendered into its own row box, diffed when its item changes, so
// nothing decides by hand what needs redrawing. Heights are measured once an item has been
// rendered and estimated before.

import { render } from './vendor/preact.module.js';

/**
 * @typedef {object} Item
 * @property {string} key stable identity (a message id, a day)
 */

/**
 * @template {Item} T
 * @typedef {object} ListOptions
 * @property {(item: T) => any} render
 * @property {(item: T) => number} estimate height before measuring
 * @property {(item: T) => boolean} [anchors] whether the view may be held in place by this
 *   item: items that move when others arrive (a loader always first, a day separator above
 *   the day's first loaded message) must not, or the view would jump with them
 * @property {() => void} [nearTop] the view is close to the first item
 * @property {() => void} [nearBottom] the view is close to the last item
 * @property {() => void} [atBottom] the user reached the last item
 * @property {(stuck: boolean) => void} [stuckChanged] the view started or stopped following
 *   the end
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
    /** @type {Map<string, {item: T, el: HTMLElement}>} */
    this.nodes = new Map();
    this.top = document.createElement('div');
    this.body = document.createElement('div');
    this.bottom = document.createElement('div');
    this.body.className = 'vlist-body';
    scroller.replaceChildren(this.top, this.body, this.bottom);
    /** Follow new items at the end. */
    this.stuck = true;
    /** The scroll position at the last scroll event. */
    this.lastTop = 0;
    /** @type {number[]} offsets[i] = top of item i; offsets[n] = total height */
    this.offsets = [0];
    this.scheduled = false;
    scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    new ResizeObserver(() => this.layout()).observe(scroller);
  }

  /**
   * Only the person leaves the bottom: the view unsticks when it moves up, and sticks again
   * when it reaches the end. (Judging by distance alone would unstick it whenever content
   * grew between the list's own scroll and its event, and new messages would land out of
   * view.)
   */
  onScroll() {
    const s = this.scroller;
    const top = s.scrollTop;
    if (s.scrollHeight - top - s.clientHeight < STICK) this.setStuck(true);
    else if (top < this.lastTop - 1) this.setStuck(false);
    this.lastTop = top;
    this.schedule();
  }

  /** @param {boolean} stuck */
  setStuck(stuck) {
    if (this.stuck === stuck) return;
    this.stuck = stuck;
    this.options.stuckChanged?.(stuck);
  }

  /** Lays out on the next frame and tells the owner which ends are near. */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.layout();
      this.edges();
    });
  }

  /**
   * Calls `nearTop` / `nearBottom` / `atBottom` for where the view is now. Called after every
   * scroll and every change of the items, so a page that arrives while the view is still at
   * an end asks for the next one (a loader never waits for a scroll that cannot happen).
   */
  edges() {
    const s = this.scroller;
    if (s.clientHeight === 0) return;
    if (s.scrollTop < OVERSCAN) this.options.nearTop?.();
    if (s.scrollHeight - s.scrollTop - s.clientHeight < OVERSCAN) this.options.nearBottom?.();
    if (this.stuck) this.options.atBottom?.();
  }

  /**
   * Replaces the items; what the user was looking at stays in place (or the view stays at
   * the bottom if it was there).
   * @param {T[]} items
   */
  setItems(items) {
    this.items = items;
    this.layout();
    this.schedule();
  }

  /** Jumps to the newest item. */
  scrollToBottom() {
    this.setStuck(true);
    this.layout();
  }

  /**
   * Puts the item with `key` in the middle of the view.
   * @param {string} key
   */
  scrollToKey(key) {
    const i = this.items.findIndex((it) => it.key === key);
    if (i < 0) return false;
    this.setStuck(false);
    for (let pass = 0; pass < 4; pass++) {
      this.computeOffsets();
      const s = this.scroller;
      const h = this.offsets[i + 1] - this.offsets[i];
      const target = Math.max(0, this.offsets[i] - (s.clientHeight - h) / 2);
      s.scrollTop = target;
      this.layoutAt(target, null);
    }
    return true;
  }

  /** Forgets measured heights and rendered rows (another chat opens). */
  reset() {
    for (const node of this.nodes.values()) render(null, node.el);
    this.nodes.clear();
    this.heights.clear();
    this.body.replaceChildren();
    this.setStuck(true);
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

  /** The first row in view that may anchor, and how far below the view's top edge it starts. */
  anchor() {
    const top = this.scroller.getBoundingClientRect().top;
    /** @type {{key: string, delta: number} | null} */
    let anchor = null;
    for (const [key, node] of this.nodes) {
      if (!node.el.isConnected || (this.options.anchors && !this.options.anchors(node.item))) continue;
      const r = node.el.getBoundingClientRect();
      const delta = r.top - top;
      if (r.bottom - top > 0 && (anchor === null || delta < anchor.delta)) anchor = { key, delta };
    }
    return anchor;
  }

  layout() {
    this.layoutAt(this.scroller.scrollTop, this.stuck ? null : this.anchor());
  }

  /**
   * @param {number} scrollTop where the view is now
   * @param {{key: string, delta: number} | null} anchor the row to keep in place
   */
  layoutAt(scrollTop, anchor) {
    const s = this.scroller;
    for (let pass = 0; pass < 8; pass++) {
      this.computeOffsets();
      const total = this.offsets[this.items.length];
      if (this.stuck) scrollTop = Math.max(0, total - s.clientHeight);
      else if (anchor) {
        const key = anchor.key;
        const i = this.items.findIndex((it) => it.key === key);
        if (i >= 0) scrollTop = Math.max(0, this.offsets[i] - anchor.delta);
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
      if (!node) {
        const el = document.createElement('div');
        el.className = 'vrow';
        node = { item, el };
        this.nodes.set(item.key, node);
        render(this.options.render(item), el);
      } else if (node.item !== item) {
        // A new item object for the same key: Preact diffs the row (focus and selection stay).
        node.item = item;
        render(this.options.render(item), node.el);
      }
      keep.add(item.key);
      els.push(node.el);
    }
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        render(null, node.el);
        this.nodes.delete(key);
      }
    }
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
