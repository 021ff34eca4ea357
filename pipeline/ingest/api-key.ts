/**
 * The optional Open-Meteo commercial API key. It lives in Secrets Manager; ingest reads it once
 * per cold start and adds it to each request at the last moment, inside the fetch ingest sends
 * through. Everything before that point (planned URLs, request ids, raw keys, metadata,
 * manifests, logs, ky's and http.ts's errors) only ever sees the key-free URL; what comes back
 * through this fetch (errors, error bodies) is scrubbed of the key.
 */
import { GetSecretValueCommand, type GetSecretValueCommandOutput } from "@aws-sdk/client-secrets-manager";
import { PipelineError } from "../core/errors";

/** The query parameter Open-Meteo's customer hosts read the key from. */
export const API_KEY_PARAMETER = "apikey";

/** What replaces the key wherever it would be shown. */
const REDACTED = "***";

/** The one Secrets Manager call loadApiKey makes; a SecretsManagerClient fits. */
export interface SecretValueClient {
  send(command: GetSecretValueCommand): Promise<Pick<GetSecretValueCommandOutput, "SecretString">>;
}

/** The key could not be read or is unusable; the message never holds the key. */
export class ApiKeyError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ApiKeyError", message, options);
  }
}

/** Throws unless `key` is usable in a query string; the message does not show the key. */
function checkApiKey(key: string, where: string): void {
  if (key === "") throw new ApiKeyError(`the Open-Meteo API key in ${where} is empty; store the key as plain text`);
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new ApiKeyError(
      `the Open-Meteo API key in ${where} (${key.length} characters) holds spaces, line breaks or non-ASCII characters; store only the key, as plain text`,
    );
  }
}

/** True when a URL already carries an apikey parameter. */
export function hasApiKeyParameter(url: string): boolean {
  return new RegExp(`[?&]${API_KEY_PARAMETER}=`, "i").test(url);
}

/**
 * Reads the API key from a Secrets Manager secret (ARN or name) holding the key as plain text;
 * surrounding whitespace (a trailing newline from `pulumi config set --secret`) is dropped.
 */
export async function loadApiKey(secretId: string, client: SecretValueClient): Promise<string> {
  let output: Pick<GetSecretValueCommandOutput, "SecretString">;
  try {
    output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ApiKeyError(
      `could not read the Open-Meteo API key from Secrets Manager secret ${secretId} (${detail}); check that the secret exists and that this function's role may secretsmanager:GetSecretValue on it`,
      { cause: error },
    );
  }
  if (output.SecretString === undefined) {
    throw new ApiKeyError(`Secrets Manager secret ${secretId} has no string value; store the API key as a string`);
  }
  const key = output.SecretString.trim();
  checkApiKey(key, `Secrets Manager secret ${secretId}`);
  return key;
}

/** Adds `name=value` (value already encoded) to a URL's query, before any fragment. */
function addQueryParameter(url: string, parameter: string): string {
  const hash = url.indexOf("#");
  const base = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? "" : url.slice(hash);
  return `${base}${base.includes("?") ? "&" : "?"}${parameter}${fragment}`;
}

/** Replaces every occurrence of the secrets in `text`. */
function scrubText(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join(REDACTED), text);
}

/**
 * Removes the secrets from an error and its causes, in place: the same object is rethrown so
 * callers still recognise it (ky classifies undici's "fetch failed" TypeError by its fields).
 */
function scrubError(error: unknown, secrets: readonly string[]): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    for (const field of ["message", "stack"] as const) {
      const value = current[field];
      if (typeof value === "string" && secrets.some((s) => value.includes(s))) {
        try {
          Object.defineProperty(current, field, {
            value: scrubText(value, secrets),
            configurable: true,
            writable: true,
          });
        } catch {
          // A frozen error cannot be fixed; the replacement below keeps the key out instead.
          return new ApiKeyError(scrubText(current.message, secrets));
        }
      }
    }
    current = current.cause;
  }
  return error;
}

/**
 * Error answers are never stored, only quoted in error messages (http.ts shows their reason),
 * so a server or proxy that echoes the request URL must not put the key there. 2xx bodies are
 * data and pass untouched.
 */
async function scrubErrorResponse(response: Response, secrets: readonly string[]): Promise<Response> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  const body = secrets.some((s) => text.includes(s)) ? new TextEncoder().encode(scrubText(text, secrets)) : bytes;
  const headers = new Headers(response.headers);
  // The body is already decoded and may have changed length.
  headers.delete("content-encoding");
  headers.delete("content-length");
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * Wraps a fetch so each request carries `apikey=<key>`; with no key, returns `fetchImpl`
 * itself. Requests are built by the caller without the key, so nothing upstream of this fetch
 * ever holds it, and errors and error bodies coming back are scrubbed of it.
 */
export function withApiKey(fetchImpl: typeof fetch, apiKey: string | undefined): typeof fetch {
  if (apiKey === undefined) return fetchImpl;
  checkApiKey(apiKey, "withApiKey");
  const encoded = encodeURIComponent(apiKey);
  const secrets = encoded === apiKey ? [apiKey] : [apiKey, encoded];
  const parameter = `${API_KEY_PARAMETER}=${encoded}`;

  const keyed = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = input instanceof Request ? input.url : input instanceof URL ? input.href : input;
    if (hasApiKeyParameter(url)) {
      throw new ApiKeyError(
        `the request URL already has an ${API_KEY_PARAMETER} parameter; keep the key out of forecastApiUrl and archiveApiUrl (it belongs in the stack's secret)`,
      );
    }
    const target = addQueryParameter(url, parameter);
    let response: Response;
    try {
      // new Request(url, request) keeps the method, headers, body and abort signal.
      response = await fetchImpl(request ? new Request(target, request) : target, init);
    } catch (error) {
      throw scrubError(error, secrets);
    }
    if (response.ok) return response;
    try {
      return await scrubErrorResponse(response, secrets);
    } catch (error) {
      throw scrubError(error, secrets);
    }
  };
  return keyed;
}
