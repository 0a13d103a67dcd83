// The part of Preact's API this client uses, for type checking only (written for Heliograph;
// Preact's own declarations need a bundler's module resolution).
export class Component<P = {}, S = {}> {
  constructor(props?: P);
  props: P;
  state: S;
  base?: Element | Text;
  setState(state: Partial<S> | ((state: S, props: P) => Partial<S>), callback?: () => void): void;
  forceUpdate(callback?: () => void): void;
  render(props?: P, state?: S): any;
}
export function h(type: any, props: any, ...children: any[]): any;
export function render(vnode: any, parent: Element): void;
export function createRef<T = any>(): { current: T | null };
