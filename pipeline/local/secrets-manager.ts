/**
 * A Secrets Manager stand-in on 127.0.0.1 for tests: answers GetSecretValue (AWS JSON 1.1
 * protocol, as the SDK sends it) from a map of secrets, ResourceNotFoundException otherwise,
 * and records every request. Point a client at it with `endpoint`, or a packaged Lambda with
 * AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A running stand-in; `secrets` may be changed at any time (e.g. a rotation). */
export interface LocalSecretsManager {
  readonly endpoint: string;
  readonly secrets: Map<string, string>;
  /** The SecretId of every GetSecretValue received, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Starts the stand-in with the given secrets (SecretId -> SecretString). */
export async function startLocalSecretsManager(
  secrets: Readonly<Record<string, string>>,
): Promise<LocalSecretsManager> {
  const map = new Map(Object.entries(secrets));
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(body));
      };
      if (request.headers["x-amz-target"] !== "secretsmanager.GetSecretValue") {
        answer(400, { __type: "InvalidAction", message: `only GetSecretValue is implemented here` });
        return;
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { SecretId: string };
      requests.push(SecretId);
      const value = map.get(SecretId);
      if (value === undefined) {
        answer(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
      } else {
        answer(200, { ARN: SecretId, Name: SecretId, SecretString: value, VersionId: "v1" });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secrets: map,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
