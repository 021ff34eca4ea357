/**
 * An IAM role that one AWS service assumes, with one inline policy of exact statements: how every
 * role of the stack is made, so each grants only what its user does.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName } from "./names";

/** One IAM policy statement: named actions on named resources, never a wildcard action. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: pulumi.Input<readonly pulumi.Input<string>[]>;
  /** Narrows the grant further, e.g. to key prefixes for s3:ListBucket. */
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

/** A role and the inline policy that holds its permissions. */
export interface ServiceRole {
  readonly role: aws.iam.Role;
  /** Depend on this, not the role, before using the role: permissions arrive with the policy. */
  readonly policy: aws.iam.RolePolicy;
}

/** Who may assume a role: a service, and the conditions on the request it makes. */
export interface Trust {
  /** e.g. states.amazonaws.com. */
  readonly service: string;
  /**
   * Conditions of the trust statement, e.g. aws:SourceAccount and aws:SourceArn, so the service
   * assumes the role only for this account's resources (confused deputy). Default none.
   */
  readonly condition?: pulumi.Input<Record<string, Record<string, pulumi.Input<string>>>>;
}

/**
 * The trust condition AWS recommends for a role Step Functions assumes: the request comes from
 * a state machine of this account and region. A state machine's own ARN cannot be named: its
 * role must exist before it, and its name is Pulumi's auto-name.
 */
export function stateMachineTrust(accountId: pulumi.Input<string>, region: pulumi.Input<string>): Trust {
  return {
    service: "states.amazonaws.com",
    condition: pulumi.output({ accountId, region }).apply(({ accountId: account, region: r }) => ({
      ArnLike: { "aws:SourceArn": `arn:aws:states:${r}:${account}:stateMachine:*` },
      StringEquals: { "aws:SourceAccount": account },
    })),
  };
}

/**
 * The trust condition AWS recommends for an EventBridge Scheduler execution role: a schedule of
 * this account, in the given schedule group (AWS: scope aws:SourceArn to the group, never to a
 * schedule).
 */
export function schedulerTrust(
  accountId: pulumi.Input<string>,
  region: pulumi.Input<string>,
  scheduleGroup: string,
): Trust {
  return {
    service: "scheduler.amazonaws.com",
    condition: pulumi.output({ accountId, region }).apply(({ accountId: account, region: r }) => ({
      StringEquals: {
        "aws:SourceAccount": account,
        "aws:SourceArn": `arn:aws:scheduler:${r}:${account}:schedule-group/${scheduleGroup}`,
      },
    })),
  };
}

/**
 * Creates `<name>-role`, assumable by `trust` (a service name such as lambda.amazonaws.com, or
 * a Trust with conditions), and `<name>-policy`.
 */
export function createServiceRole(
  name: string,
  trust: string | Trust,
  statements: readonly PolicyStatement[],
  opts: pulumi.CustomResourceOptions,
): ServiceRole {
  const { service, condition } = typeof trust === "string" ? { service: trust, condition: undefined } : trust;
  const role = new aws.iam.Role(
    physicalName("iam-role", `${name}-role`, { autoNamed: true }),
    {
      assumeRolePolicy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: service },
            Action: "sts:AssumeRole",
            ...(condition === undefined ? {} : { Condition: condition }),
          },
        ],
      }),
    },
    opts,
  );
  const policy = new aws.iam.RolePolicy(
    physicalName("iam-role-policy", `${name}-policy`, { autoNamed: true }),
    { role: role.id, policy: pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements }) },
    opts,
  );
  return { role, policy };
}
