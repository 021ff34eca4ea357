/**
 * How tests run a command as `npm run pipeline -- <args>` runs it: the compiled CLI in dist/,
 * compiled again first where a source changed (synchronously, so commands started together
 * never build at the same time).
 */
import { build, CLI_ENTRY } from "../../pipeline/local/build";

/** The arguments of `node` for `pipeline <args>`. */
export function pipelineArgs(...args: string[]): string[] {
  build();
  return [CLI_ENTRY, ...args];
}
