/**
 * The resource-policy statement every data store of the stack carries: refuse plain HTTP.
 */
import type * as pulumi from "@pulumi/pulumi";

/** Denies `action` on `resource` to anyone calling without TLS. */
export function denyInsecureTransport(
  action: string,
  resource: pulumi.Input<string> | pulumi.Input<string>[],
): Record<string, unknown> {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: action,
    Resource: resource,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}
