// htm's API, for type checking only (written for Heliograph): `htm.bind(h)` is the tag.
export default function htm(this: (type: any, props: any, ...children: any[]) => any, strings: TemplateStringsArray, ...values: any[]): any;
