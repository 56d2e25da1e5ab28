import { invalidValue, missingParameter } from './ec2-error.js';

/**
 * The flat parameters of one EC2 Query request. EC2 encodes lists with
 * 1-based indexes (`InstanceId.1`, `Filter.2.Value.1`), so structure is
 * recovered from the key names.
 */
export class QueryParams {
  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  /** Form body and URL query together: EC2 accepts a parameter in either. */
  static parse(body: string, search = ''): QueryParams {
    const values = new Map<string, string>();
    for (const source of [search, body]) for (const [key, value] of new URLSearchParams(source)) values.set(key, value);
    return new QueryParams(values);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  required(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === '') throw missingParameter(name);
    return value;
  }

  integer(name: string): number | undefined {
    const text = this.values.get(name);
    if (text === undefined) return undefined;
    if (!/^-?\d+$/.test(text)) throw invalidValue(`Value (${text}) for parameter ${name} is invalid. Expected an integer`);
    return Number(text);
  }

  requiredInteger(name: string): number {
    const value = this.integer(name);
    if (value === undefined) throw missingParameter(name);
    return value;
  }

  /** `Prefix.1`, `Prefix.2`, ...: a list of scalars, in index order. */
  list(prefix: string): string[] {
    return this.indexed(prefix).flatMap(([, sub]) => {
      const value = sub.get('');
      return value === undefined ? [] : [value];
    });
  }

  /** `Prefix.1.Name`, `Prefix.1.Value.1`, ...: a list of structures, each with its own keys. */
  members(prefix: string): QueryParams[] {
    return this.indexed(prefix).map(([, sub]) => new QueryParams(sub));
  }

  /** `Prefix.N.Key` / `Prefix.N.Value` pairs, as in tag lists. */
  pairs(prefix: string): Array<[string, string]> {
    return this.members(prefix).map((member) => [member.required('Key'), member.get('Value') ?? '']);
  }

  private indexed(prefix: string): Array<[number, Map<string, string>]> {
    const groups = new Map<number, Map<string, string>>();
    const lead = `${prefix}.`;
    for (const [key, value] of this.values) {
      if (!key.startsWith(lead)) continue;
      const rest = key.slice(lead.length);
      const match = /^(\d+)(?:\.(.+))?$/.exec(rest);
      if (!match) continue;
      const index = Number(match[1]);
      const group = groups.get(index) ?? new Map<string, string>();
      group.set(match[2] ?? '', value);
      groups.set(index, group);
    }
    return [...groups.entries()].sort(([a], [b]) => a - b);
  }
}

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

/** `<name>text</name>`, or nothing at all when the value is absent (EC2 omits unset fields). */
export function leaf(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** An element holding already-encoded children. */
export function node(name: string, ...children: string[]): string {
  const inner = children.join('');
  return inner ? `<${name}>${inner}</${name}>` : `<${name}/>`;
}

/** EC2's list shape: `<name><item>...</item><item>...</item></name>`. */
export function itemSet(name: string, items: readonly string[]): string {
  return node(name, ...items.map((item) => node('item', item)));
}

export function responseXml(action: string, requestId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}">${leaf('requestId', requestId)}${body}</${action}Response>`;
}

export function errorXml(code: string, message: string, requestId: string): string {
  const error = node('Error', leaf('Code', code), leaf('Message', message));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${node('Errors', error)}${leaf('RequestID', requestId)}</Response>`;
}
