import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runInThisContext } from "node:vm";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PipelineError } from "../../pipeline/core/errors";
import { TRANSIENT_ERRORS } from "../../pipeline/infra/state-machine-definition";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import * as applications from "../../pipeline/applications/errors";
import * as apiKey from "../../pipeline/ingest/api-key";
import * as http from "../../pipeline/ingest/http";
import * as ingest from "../../pipeline/ingest/ingest";
import * as response from "../../pipeline/transform/openmeteo-response";
import * as storage from "../../pipeline/core/storage";
import * as transform from "../../pipeline/transform/transform";

/** Loads serialized code the way Lambda loads __index.js, and returns its handler. */
function loadSerialized(text: string): () => unknown {
  const module = { exports: {} as { handler: () => unknown } };
  // The same realm as the test, so `instanceof Error` compares against the same Error.
  const load = runInThisContext(`(function (exports, module, require) {\n${text}\n})`) as (
    exports: object,
    module: object,
    load: NodeJS.Require,
  ) => void;
  load(module.exports, module, require);
  return module.exports.handler;
}

/** One way to build each exported error class, as the Lambda code builds them. */
const builders: Record<string, () => Error> = {
  PipelineError: () => new PipelineError("SomethingFailed", "it failed", { cause: new Error("root") }),
  ObjectNotFoundError: () => new storage.ObjectNotFoundError("s3://raw", "open-meteo/x.json"),
  TransformError: () => new transform.TransformError("open-meteo/x.json is listed twice", { cause: new Error("dup") }),
  ApiKeyError: () => new apiKey.ApiKeyError("the Open-Meteo API key is empty", { cause: new Error("secret") }),
  OpenMeteoResponseError: () => new response.OpenMeteoResponseError("open-meteo/x.json", "not valid JSON"),
  OpenMeteoRequestError: () =>
    new http.OpenMeteoRequestError(
      "request failed",
      "https://api/x",
      { kind: "network", detail: "reset" },
      3,
      10,
      true,
    ),
  OpenMeteoApiError: () =>
    new http.OpenMeteoApiError(
      "Open-Meteo answered 400",
      "https://api/x",
      { kind: "status", status: 400, reason: "bad variable" },
      1,
      5,
      false,
    ),
  OpenMeteoUnreachableError: () =>
    new http.OpenMeteoUnreachableError("no answer", "https://api/x", { kind: "timeout", timeoutMs: 10 }, 4, 50),
  PreconditionFailedError: () =>
    new storage.PreconditionFailedError("s3://apps", "applications/registry.json", "failed", {
      cause: new Error("412 Precondition Failed"),
    }),
  ApplicationsError: () =>
    new applications.ApplicationsError("the registry is not valid JSON", {
      cause: new SyntaxError("Unexpected token"),
    }),
  IngestError: () =>
    new ingest.IngestError("ingest failed", "2026-11-20", "forecast", "0000-abc", [], {
      cause: new http.OpenMeteoUnreachableError("no answer", "u", { kind: "timeout", timeoutMs: 1 }, 1, 1),
    }),
};

function exportedErrorClasses(): string[] {
  const names: string[] = [];
  for (const module of [apiKey, applications, http, ingest, response, storage, transform, { PipelineError }]) {
    for (const [name, value] of Object.entries(module)) {
      const prototype = (value as { prototype?: unknown }).prototype;
      if (typeof value === "function" && (value === PipelineError || prototype instanceof PipelineError)) {
        names.push(name);
      }
    }
  }
  return names.sort();
}

describe("errors thrown by Lambda code, after Pulumi's closure serializer", () => {
  it("covers every exported error class", () => {
    expect(Object.keys(builders).sort()).to.deep.equal(exportedErrorClasses());
  });

  for (const [name, build] of Object.entries(builders)) {
    it(`${name} keeps its class, name, message and cause`, async () => {
      const original = build();
      const Class = original.constructor as new (...args: never[]) => Error;
      const serialized = await pulumi.runtime.serializeFunction(
        () => () => {
          const error = build();
          return {
            isError: error instanceof Error,
            isPipelineError: error instanceof PipelineError,
            isOwnClass: error instanceof Class,
            name: error.name,
            message: error.message,
            cause: error.cause instanceof Error ? error.cause.message : error.cause,
            hasStack: typeof error.stack === "string" && error.stack.length > 0,
          };
        },
        { isFactoryFunction: true },
      );
      const seen = loadSerialized(serialized.text)() as Record<string, unknown>;
      expect(seen).to.deep.equal({
        isError: true,
        isPipelineError: true,
        isOwnClass: true,
        name: original.name,
        message: original.message,
        cause: original.cause instanceof Error ? original.cause.message : original.cause,
        hasStack: true,
      });
      expect(seen["message"]).to.not.equal("");
    });
  }

  it("names a permanent transform failure so the state machine alerts at once instead of retrying", async () => {
    const store = new storage.DirectoryObjectStore(mkdtempSync(path.join(tmpdir(), "transform-error-")));
    const settings = { ...DEFAULT_PIPELINE_SETTINGS };
    const error = await transform
      .transformRawObjects(
        { date: "2026-11-20", keys: ["open-meteo/forecast/date=2026-11-20/0000-aaaaaaaaaaaa.json"] },
        { settings, rawStore: store, curatedStore: store },
      )
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error?.name, error?.message).to.equal("TransformError");
    for (const name of ["TransformError", "ObjectNotFoundError", "OpenMeteoResponseError", "IngestError"]) {
      expect(TRANSIENT_ERRORS, name).to.not.include(name);
    }
  });

  it("names a transient ingest failure so the state machine retries it", () => {
    const error = builders["IngestError"]!();
    expect(error.name).to.equal("OpenMeteoUnavailableError");
    const permanent = new ingest.IngestError("x", "2026-11-20", "forecast", "0000-abc", [], {
      cause: builders["OpenMeteoApiError"]!(),
    });
    expect(permanent.name).to.equal("IngestError");
  });
});
