/**
 * The event that starts the processing: S3's "Object Created" as EventBridge delivers it
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). EventBridge sends the
 * key as it is, not URL-encoded as direct S3 notifications do.
 */
import { ApplicationsError } from "./errors";

/** The object an event is about. */
export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  /** Without quotes, as the event has it; absent in a hand-made event. */
  readonly etag?: string;
  readonly size?: number;
  readonly versionId?: string;
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 300) ?? String(value);
}

/** Reads the object of an EventBridge "Object Created" event from S3; throws for anything else. */
export function parseObjectCreatedEvent(event: unknown): CreatedObject {
  const e = event as {
    source?: unknown;
    "detail-type"?: unknown;
    detail?: {
      bucket?: { name?: unknown };
      object?: { key?: unknown; etag?: unknown; size?: unknown; "version-id"?: unknown };
    };
  } | null;
  const bucket = e?.detail?.bucket?.name;
  const object = e?.detail?.object;
  if (
    e?.source !== "aws.s3" ||
    e["detail-type"] !== "Object Created" ||
    typeof bucket !== "string" ||
    typeof object?.key !== "string"
  ) {
    throw new ApplicationsError(
      `the event is ${describe(event)}; the applications processor takes S3 "Object Created" events from EventBridge ({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name"}, "object": {"key", "etag", "size"}}})`,
    );
  }
  return {
    bucket,
    key: object.key,
    ...(typeof object.etag === "string" ? { etag: object.etag.replace(/"/g, "") } : {}),
    ...(typeof object.size === "number" ? { size: object.size } : {}),
    ...(typeof object["version-id"] === "string" ? { versionId: object["version-id"] } : {}),
  };
}

/** An "Object Created" event as EventBridge would send it, for the local drop zone and tests. */
export function objectCreatedEvent(object: CreatedObject, time: Date = new Date()): Record<string, unknown> {
  return {
    version: "0",
    id: `local-${object.key}-${object.etag ?? ""}`,
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "000000000000",
    time: time.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: "local",
    resources: [`arn:aws:s3:::${object.bucket}`],
    detail: {
      version: "0",
      bucket: { name: object.bucket },
      object: {
        key: object.key,
        ...(object.size === undefined ? {} : { size: object.size }),
        ...(object.etag === undefined ? {} : { etag: object.etag }),
        ...(object.versionId === undefined ? {} : { "version-id": object.versionId }),
      },
      reason: "PutObject",
    },
  };
}
