/**
 * Reserved concurrency, checked at preview against the account's Lambda quota. Reserving is off
 * by default: on a new account, whose quota of concurrent executions is 10, any reservation
 * fails `pulumi up` (Lambda keeps 100 executions unreserved, or all of them below that). A run
 * needs none to send one request at a time: its dates go through a Map with MaxConcurrency 1.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Service Quotas code of Lambda's "Concurrent executions" (per account and region). */
export const LAMBDA_CONCURRENCY_QUOTA_CODE = "L-B99A9384";

/** Lambda keeps at least this many executions unreserved: 100, or the whole quota below that. */
export function minimumUnreserved(quota: number): number {
  return Math.min(100, quota);
}

/** Thrown at preview when the reservations cannot be made. */
export class ReservedConcurrencyError extends Error {
  override readonly name = "ReservedConcurrencyError";
}

/** One function's reservation: the config key that asks for it, and how many executions. */
export interface Reservation {
  readonly key: string;
  /** undefined or 0: unreserved. */
  readonly executions: number | undefined;
}

/**
 * Why making `reservations` fails on an account whose quota of concurrent executions is
 * `quota` (in region `where`), or undefined. Other functions' reservations in the account are
 * not known here.
 */
export function reservedConcurrencyProblem(
  quota: number,
  reservations: readonly Reservation[],
  where: string,
): string | undefined {
  const asked = reservations.filter((r) => (r.executions ?? 0) > 0);
  const total = asked.reduce((sum, r) => sum + (r.executions ?? 0), 0);
  if (asked.length === 0 || quota - total >= minimumUnreserved(quota)) return undefined;
  return (
    `${asked.map((r) => `${r.key} is ${r.executions}`).join(" and ")}, but the account's Lambda quota of ` +
    `concurrent executions in ${where} is ${quota} (Service Quotas ${LAMBDA_CONCURRENCY_QUOTA_CODE}) and Lambda ` +
    `keeps ${minimumUnreserved(quota)} unreserved, so reserving ${total} would fail pulumi up; set ` +
    `${asked.length > 1 ? "them" : "it"} to 0 (a run still fetches one date at a time) or have the quota raised ` +
    `to at least ${total + 100}. Reservations of other functions in the account count too and are not checked here`
  );
}

/**
 * The reservations, each an Output that fails the preview with a clear message when the
 * account's quota (looked up only when something is reserved) cannot hold them all.
 */
export function checkedReservations<K extends string>(
  reservations: Readonly<Record<K, Reservation>>,
  region: pulumi.Input<string>,
  opts: pulumi.InvokeOutputOptions,
): Record<K, pulumi.Output<number> | undefined> {
  const all = Object.values<Reservation>(reservations);
  const quota = all.some((r) => (r.executions ?? 0) > 0)
    ? aws.servicequotas.getServiceQuotaOutput({ serviceCode: "lambda", quotaCode: LAMBDA_CONCURRENCY_QUOTA_CODE }, opts)
        .value
    : undefined;
  const out = {} as Record<K, pulumi.Output<number> | undefined>;
  for (const name of Object.keys(reservations) as K[]) {
    const executions = reservations[name].executions;
    out[name] =
      executions === undefined || quota === undefined
        ? undefined
        : pulumi.all([quota, region]).apply(([q, r]) => {
            const problem = reservedConcurrencyProblem(q, all, r);
            if (problem) throw new ReservedConcurrencyError(problem);
            return executions;
          });
  }
  return out;
}
