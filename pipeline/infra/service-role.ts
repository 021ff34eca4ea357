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

/** Creates `<name>-role`, assumable by `service` (e.g. lambda.amazonaws.com), and `<name>-policy`. */
export function createServiceRole(
  name: string,
  service: string,
  statements: readonly PolicyStatement[],
  opts: pulumi.CustomResourceOptions,
): ServiceRole {
  const role = new aws.iam.Role(
    physicalName("iam-role", `${name}-role`, { autoNamed: true }),
    {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
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
