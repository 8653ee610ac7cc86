/**
 * A tiny, typed description of environment variables. Every service declares the variables it reads
 * with these helpers; `readConfig` validates all of them at boot and names every bad one.
 */
export interface VarSpec<T> {
  readonly kind: string;
  readonly doc: string;
  readonly secret: boolean;
  readonly default: T | undefined;
  readonly required: boolean;
  parse(raw: string): T;
}

type Opts<T> = { doc: string; default?: T; secret?: boolean; required?: boolean };

function spec<T>(kind: string, opts: Opts<T>, parse: (raw: string) => T): VarSpec<T> {
  return {
    kind,
    doc: opts.doc,
    secret: opts.secret ?? false,
    default: opts.default,
    required: opts.required ?? false,
    parse,
  };
}

export const v = {
  string: (opts: Opts<string>) =>
    spec('string', opts, (raw) => {
      if (raw.length === 0) throw new Error('must not be empty');
      return raw;
    }),
  optionalString: (opts: Omit<Opts<string>, 'default' | 'required'> & { minLength?: number }): VarSpec<string | undefined> =>
    spec<string | undefined>('string', opts, (raw) => {
      if (raw.length === 0) return undefined;
      if (opts.minLength !== undefined && raw.length < opts.minLength) throw new Error(`must be at least ${opts.minLength} characters`);
      return raw;
    }),
  int: (opts: Opts<number> & { min?: number; max?: number }) =>
    spec('integer', opts, (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be an integer, got "${raw}"`);
      const n = Number(raw);
      if (opts.min !== undefined && n < opts.min) throw new Error(`must be >= ${opts.min}, got ${n}`);
      if (opts.max !== undefined && n > opts.max) throw new Error(`must be <= ${opts.max}, got ${n}`);
      return n;
    }),
  number: (opts: Opts<number> & { min?: number; max?: number }) =>
    spec('number', opts, (raw) => {
      const t = raw.trim();
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) throw new Error(`must be a number, got "${raw}"`);
      if (opts.min !== undefined && n < opts.min) throw new Error(`must be >= ${opts.min}, got ${n}`);
      if (opts.max !== undefined && n > opts.max) throw new Error(`must be <= ${opts.max}, got ${n}`);
      return n;
    }),
  bool: (opts: Opts<boolean>) =>
    spec('boolean', opts, (raw) => {
      const s = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      throw new Error(`must be true or false, got "${raw}"`);
    }),
  oneOf: <const T extends string>(values: readonly T[], opts: Opts<T>) =>
    spec<T>(values.join(' | '), opts, (raw) => {
      if (!(values as readonly string[]).includes(raw)) {
        throw new Error(`must be one of ${values.join(', ')}, got "${raw}"`);
      }
      return raw as T;
    }),
  url: (protocols: readonly string[], opts: Opts<string>) =>
    spec('url', opts, (raw) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new Error('must be a URL');
      }
      if (!protocols.includes(u.protocol.replace(/:$/, ''))) {
        throw new Error(`must use ${protocols.join(' or ')}, got ${u.protocol}`);
      }
      return raw;
    }),
  list: (opts: Opts<string[]>) =>
    spec('comma-separated list', opts, (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
};

export type ConfigSpec = Record<string, VarSpec<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { [K in keyof S]: S[K] extends VarSpec<infer T> ? T : never };
