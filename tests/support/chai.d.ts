// chai 6 ships no type declarations and @types/chai is not a dependency yet; this covers the
// part of `expect` the tests use. Delete it once @types/chai is added to devDependencies.
declare module "chai" {
  interface Assertion {
    readonly to: Assertion;
    readonly be: Assertion;
    readonly been: Assertion;
    readonly is: Assertion;
    readonly that: Assertion;
    readonly which: Assertion;
    readonly and: Assertion;
    readonly has: Assertion;
    readonly have: Assertion;
    readonly with: Assertion;
    readonly at: Assertion;
    readonly of: Assertion;
    readonly same: Assertion;
    readonly but: Assertion;
    readonly does: Assertion;
    readonly not: Assertion;
    readonly deep: Assertion;
    readonly nested: Assertion;
    readonly own: Assertion;
    readonly ordered: Assertion;
    readonly any: Assertion;
    readonly all: Assertion;
    readonly ok: Assertion;
    readonly true: Assertion;
    readonly false: Assertion;
    readonly null: Assertion;
    readonly undefined: Assertion;
    readonly NaN: Assertion;
    readonly exist: Assertion;
    readonly empty: Assertion;
    a(type: string, message?: string): Assertion;
    an(type: string, message?: string): Assertion;
    include(value: unknown, message?: string): Assertion;
    contain(value: unknown, message?: string): Assertion;
    equal(value: unknown, message?: string): Assertion;
    eql(value: unknown, message?: string): Assertion;
    above(value: number | bigint, message?: string): Assertion;
    least(value: number | bigint, message?: string): Assertion;
    below(value: number | bigint, message?: string): Assertion;
    most(value: number | bigint, message?: string): Assertion;
    within(start: number, finish: number, message?: string): Assertion;
    closeTo(expected: number, delta: number, message?: string): Assertion;
    instanceOf(constructor: abstract new (...args: never[]) => unknown, message?: string): Assertion;
    property(name: string, value?: unknown, message?: string): Assertion;
    lengthOf(length: number, message?: string): Assertion;
    match(pattern: RegExp, message?: string): Assertion;
    string(text: string, message?: string): Assertion;
    keys(...keys: (string | readonly string[])[]): Assertion;
    members(set: readonly unknown[], message?: string): Assertion;
    oneOf(list: readonly unknown[], message?: string): Assertion;
    satisfy(matcher: (value: never) => boolean, message?: string): Assertion;
    throw(expected?: string | RegExp | (abstract new (...args: never[]) => Error), message?: string | RegExp): Assertion;
  }
  /** Starts an assertion about `value`. */
  export function expect(value: unknown, message?: string): Assertion;
}
