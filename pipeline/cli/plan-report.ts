/**
 * The human-readable form of a plan: one line per resource with the inputs worth reading.
 */
import type { PlannedResource } from "../local/plan";

/** Inputs shown per resource type; the rest is in `--json`. */
const KEY_INPUTS: Readonly<Record<string, readonly string[]>> = {
  "aws:s3/bucket:Bucket": ["forceDestroy"],
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ["rules"],
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ["rules"],
  "aws:lambda/function:Function": ["name", "runtime", "architectures", "memorySize", "timeout", "code"],
  "aws:cloudwatch/logGroup:LogGroup": ["name", "retentionInDays"],
  "aws:iam/rolePolicy:RolePolicy": ["policy"],
  "aws:scheduler/schedule:Schedule": ["scheduleExpression", "scheduleExpressionTimezone", "state"],
  "aws:sfn/stateMachine:StateMachine": ["type"],
};

function summarize(key: string, value: unknown): string {
  if (key === "code" && value && typeof value === "object" && "assets" in value) {
    const assets = (value as { assets: Record<string, { text?: string; path?: string }> }).assets;
    const files = Object.entries(assets).map(([name, a]) =>
      a.text !== undefined ? `${name} (${a.text.length} B)` : name,
    );
    return `code=[${files.join(", ")}]`;
  }
  if (key === "policy" && typeof value === "string") {
    const doc = JSON.parse(value) as { Statement: { Action: string[]; Resource: string[] }[] };
    return doc.Statement.map((s) => `${s.Action.join("+")} on ${s.Resource.join(", ")}`).join("; ");
  }
  return `${key}=${JSON.stringify(value)}`;
}

/** Formats a plan as a table-like listing, grouped in declaration order. */
export function formatPlan(stack: string, resources: readonly PlannedResource[]): string {
  const lines = [`Stack ${stack}: ${resources.length} resources (under Pulumi mocks; nothing was deployed)`, ""];
  for (const r of resources) {
    const shown = (KEY_INPUTS[r.type] ?? [])
      .filter((key) => r.inputs[key] !== undefined)
      .map((key) => summarize(key, r.inputs[key]));
    lines.push(`${r.type.padEnd(48)} ${r.name}`);
    for (const detail of shown) lines.push(`${"".padEnd(50)}${detail}`);
  }
  return `${lines.join("\n")}\n`;
}
