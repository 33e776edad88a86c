/**
 * Label matchers with Prometheus semantics: regexes are fully anchored and `.` matches newlines
 * (Prometheus compiles `^(?s:re)$`); a missing label reads as the empty string.
 */
import { SluiceError, ErrorCode } from '../errors.js';
import { compileAnchored } from './regex.js';

/** MatchType names the four matcher kinds, as written in PromQL. */
export const MatchType = { EQ: '=', NEQ: '!=', RE: '=~', NRE: '!~' } as const;
export type MatchType = (typeof MatchType)[keyof typeof MatchType];

/** Matcher matches one label's value. Plain data, so it can cross threads; use compileMatcher. */
export interface Matcher {
  type: MatchType;
  name: string;
  value: string;
}

/** CompiledMatcher adds a `matches` test to a Matcher. */
export interface CompiledMatcher extends Matcher {
  matches(v: string): boolean;
}

/** compileMatcher builds the value test of a matcher; a bad regex is a 400-class error. */
export function compileMatcher(m: Matcher): CompiledMatcher {
  switch (m.type) {
    case MatchType.EQ: return { ...m, matches: (v) => v === m.value };
    case MatchType.NEQ: return { ...m, matches: (v) => v !== m.value };
    case MatchType.RE:
    case MatchType.NRE: {
      let re: RegExp;
      try {
        // RE2 syntax (Prometheus' regexes), translated for JavaScript's engine: regex.ts.
        re = compileAnchored(m.value);
      } catch (e) {
        throw new SluiceError(ErrorCode.BadRequest, `invalid regular expression ${JSON.stringify(m.value)}: ${(e as Error).message}`);
      }
      return m.type === MatchType.RE ? { ...m, matches: (v) => re.test(v) } : { ...m, matches: (v) => !re.test(v) };
    }
    default:
      throw new SluiceError(ErrorCode.BadRequest, `unknown match type ${String((m as Matcher).type)}`);
  }
}
