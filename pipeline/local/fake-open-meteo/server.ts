/**
 * The fake Open-Meteo's HTTP server on 127.0.0.1: a thin shell around answerOpenMeteoQuery that
 * records every request and plays the faults a test scripts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { OPEN_METEO_REASONS, type FakeAnswer, type FakeRequest } from "./faults";
import { answerOpenMeteoQuery, type RenderedAnswer } from "./response";
import { isNotModified, renderFakeSourceFile, type FakeSourceFile } from "./sources";
import type { SourceDefinition } from "../../sources";

// ---------------------------------------------------------------------------------------------
// The HTTP server
// ---------------------------------------------------------------------------------------------

/** One request the fake received, and what it sent back. */
export interface RecordedRequest {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  /** The query string as received, without "?". */
  readonly query: string;
  /** Parameters from the query (and a POST form body); a repeated name is joined with ",". */
  readonly params: Readonly<Record<string, string>>;
  readonly receivedAt: Date;
  /** Request headers, lower-case names (a repeated one joined with ", "). */
  readonly headers: Readonly<Record<string, string>>;
  /** Status and body bytes as sent (before gzip); absent for hang, stall and reset. */
  answer?: { readonly status: number; readonly body: Uint8Array; readonly scripted: boolean };
}

/** Options of the fake. */
export interface FakeOpenMeteoOptions {
  /** Port on 127.0.0.1; default 0 (any free port). */
  readonly port?: number;
  /** Delay before every answer, in milliseconds; default 0. */
  readonly latencyMs?: number;
  /** Scripts answers per request; return undefined for the normal answer. */
  readonly respond?: (request: FakeRequest) => FakeAnswer | undefined;
  /** The API's clock; default the real time. */
  readonly now?: () => Date;
  /** Archive hours later than this many days before the clock are null; default 5. */
  readonly archiveDelayDays?: number;
  /** Requests in flight at once before answering 429 "Too many concurrent requests"; default unlimited. */
  readonly maxConcurrentRequests?: number;
  /** Gzip bodies when the client accepts it, as the real API does; default true. */
  readonly gzip?: boolean;
  /**
   * Sources whose files the fake publishes at /sources/<name>.<csv|json|jsonl> (see
   * sources.ts), rendered in each source's declared dialect; default none.
   */
  readonly sources?: readonly SourceDefinition[];
  /** Scripts a source's file (a publisher's change, a broken file); undefined serves the rendered one. */
  readonly sourceFile?: (name: string, now: Date) => FakeSourceFile | undefined;
  /**
   * Rate limits by API weight, as the free API counts them per client (RateLimiter.swift): a
   * request is refused with the limit's 429 while the usage of the current minute, hour or UTC
   * day (by the fake's clock) has reached the limit, and is not counted then; an answered
   * request counts its weight, an error answer 1. A request heavier than the hourly limit is a
   * 400. Default: no limits (the self-hosted server's behaviour), usage still counted.
   */
  readonly quota?: { readonly minutely?: number; readonly hourly?: number; readonly daily?: number };
}

/** What the fake has counted, as the server's rate limiter would. */
export interface FakeUsage {
  /** Requests answered (success or error), 429s of the quota excluded. */
  readonly requests: number;
  /** Weight counted over the fake's life: successes by their weight, errors 1 each. */
  readonly weight: number;
  /** Requests refused by the quota (429, not counted). */
  readonly refused: number;
}

/** The free API's limits (RateLimiter.swift defaults). */
export const FREE_TIER_QUOTA = { minutely: 600, hourly: 5_000, daily: 10_000 } as const;

/** The server's reason for a request heavier than the hourly limit. */
const TOO_MUCH_DATA =
  "Your API call requests too much data. Please reduce the number of variables, locations and/or weather models.";

/** A running fake. */
export interface FakeOpenMeteo {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** `${url}/v1/forecast`, for PipelineSettings.forecastApiUrl. */
  readonly forecastUrl: string;
  /** `${url}/v1/archive`, for PipelineSettings.archiveApiUrl. */
  readonly archiveUrl: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Where the fake publishes a source's file. */
  sourceUrl(source: Pick<SourceDefinition, "name" | "format">): string;
  /** Weight and requests counted so far. */
  usage(): FakeUsage;
  /** Stops listening and drops open connections (hanging ones included). */
  close(): Promise<void>;
}

function readParams(query: string, form: string | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const source of [query, form ?? ""]) {
    for (const [name, value] of new URLSearchParams(source)) {
      params[name] = params[name] === undefined ? value : `${params[name]},${value}`;
    }
  }
  return params;
}

async function readRequestBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the fake Open-Meteo API on 127.0.0.1. */
export async function startFakeOpenMeteo(options: FakeOpenMeteoOptions = {}): Promise<FakeOpenMeteo> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const now = options.now ?? (() => new Date());
  let inFlight = 0;
  let closed = false;
  const counted = { requests: 0, weight: 0, refused: 0 };
  // Usage per period, reset when the period (by the fake's clock) changes, like the server's
  // counters that it clears every minute, at the hour and at 00:00 UTC.
  const state: { name: "minutely" | "hourly" | "daily"; ms: number; limit?: number; index: number; used: number }[] = [
    { name: "minutely", ms: 60_000, limit: options.quota?.minutely, index: -1, used: 0 },
    { name: "hourly", ms: 3_600_000, limit: options.quota?.hourly, index: -1, used: 0 },
    { name: "daily", ms: 86_400_000, limit: options.quota?.daily, index: -1, used: 0 },
  ];
  const roll = (): void => {
    const t = now().getTime();
    for (const p of state) {
      const index = Math.floor(t / p.ms);
      if (index !== p.index) {
        p.index = index;
        p.used = 0;
      }
    }
  };
  const count = (weight: number): void => {
    roll();
    counted.requests++;
    counted.weight = Math.fround(counted.weight + weight);
    for (const p of state) p.used = Math.fround(p.used + weight);
  };

  const send = (
    request: IncomingMessage,
    response: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: Uint8Array,
    contentType: string,
    scripted: boolean,
  ): void => {
    if (response.destroyed || closed) return;
    record.answer = { status, body, scripted };
    const gzip = (options.gzip ?? true) && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    const payload = gzip ? gzipSync(body) : body;
    response.writeHead(status, {
      "content-type": contentType,
      "content-length": payload.length,
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    response.end(payload);
  };

  const serveSource = (request: IncomingMessage, response: ServerResponse, record: RecordedRequest, name: string) => {
    const source = options.sources?.find((s) => s.name === name);
    const file = options.sourceFile?.(name, now()) ?? (source ? renderFakeSourceFile(source, now()) : undefined);
    if (!file) {
      send(request, response, record, 404, Buffer.from(`no source ${name} is published here\n`), "text/plain", false);
      return;
    }
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    };
    const validators = {
      ...(file.lastModified === undefined ? {} : { "last-modified": file.lastModified }),
      ...(file.etag === undefined ? {} : { etag: file.etag }),
    };
    if (isNotModified(file, { ifNoneMatch: header("if-none-match"), ifModifiedSince: header("if-modified-since") })) {
      record.answer = { status: 304, body: new Uint8Array(0), scripted: false };
      response.writeHead(304, validators);
      response.end();
      return;
    }
    record.answer = { status: 200, body: file.body, scripted: options.sourceFile !== undefined };
    const gzip = (options.gzip ?? true) && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    const payload = gzip ? gzipSync(file.body) : file.body;
    response.writeHead(200, {
      "content-type": file.contentType,
      "content-length": payload.length,
      ...validators,
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    response.end(payload);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = new URL(request.url ?? "/", "http://127.0.0.1");
    const form =
      request.method === "POST" && /x-www-form-urlencoded/.test(String(request.headers["content-type"] ?? ""))
        ? await readRequestBody(request)
        : undefined;
    const params = readParams(target.search.replace(/^\?/, ""), form);
    const record: RecordedRequest = {
      index: requests.length,
      method: request.method ?? "GET",
      path: target.pathname,
      query: target.search.replace(/^\?/, ""),
      params,
      receivedAt: new Date(),
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [
          name,
          Array.isArray(value) ? value.join(", ") : String(value),
        ]),
      ),
    };
    requests.push(record);

    if (options.maxConcurrentRequests !== undefined && inFlight > options.maxConcurrentRequests) {
      const body = Buffer.from(JSON.stringify({ error: true, reason: OPEN_METEO_REASONS.concurrency }));
      send(request, response, record, 429, body, "application/json; charset=utf-8", true);
      return;
    }
    // A published source's file is another publisher's: Open-Meteo's quota does not count it.
    const sourceMatch = /^\/sources\/([a-z][a-z0-9_]*)\.(csv|jsonl?)$/.exec(record.path);
    if (options.quota && !sourceMatch) {
      roll();
      const exhausted = state.find((p) => p.limit !== undefined && p.used >= p.limit);
      if (exhausted) {
        counted.refused++;
        const body = Buffer.from(JSON.stringify({ error: true, reason: OPEN_METEO_REASONS[exhausted.name] }));
        send(request, response, record, 429, body, "application/json; charset=utf-8", true);
        return;
      }
    }
    if (options.latencyMs) await wait(options.latencyMs);

    const scripted = options.respond?.({ index: record.index, method: record.method, path: record.path, params });
    if (scripted && "delayMs" in scripted && scripted.delayMs) await wait(scripted.delayMs);
    if (response.destroyed || closed) return;

    const normal = (): RenderedAnswer =>
      answerOpenMeteoQuery(record.path, params, { now: now(), archiveDelayDays: options.archiveDelayDays });
    const json = "application/json; charset=utf-8";
    switch (scripted?.kind) {
      case undefined:
      case "delay": {
        if (sourceMatch) {
          serveSource(request, response, record, sourceMatch[1] as string);
          return;
        }
        const answer = normal();
        const hourly = options.quota?.hourly;
        if (answer.weight !== undefined && hourly !== undefined && answer.weight > hourly) {
          count(1);
          send(
            request,
            response,
            record,
            400,
            Buffer.from(JSON.stringify({ error: true, reason: TOO_MUCH_DATA })),
            json,
            false,
          );
          return;
        }
        count(answer.status === 200 ? (answer.weight ?? 1) : 1);
        send(request, response, record, answer.status, Buffer.from(answer.body, "utf8"), json, false);
        return;
      }
      case "json":
        // A scripted error counts 1, as any error does; a scripted 429 stands for the limiter's and counts nothing.
        if (scripted.status !== 429) count(1);
        send(
          request,
          response,
          record,
          scripted.status,
          Buffer.from(JSON.stringify(scripted.body), "utf8"),
          json,
          true,
        );
        return;
      case "text": {
        const body = typeof scripted.body === "string" ? Buffer.from(scripted.body, "utf8") : scripted.body;
        send(
          request,
          response,
          record,
          scripted.status,
          body,
          scripted.contentType ?? "text/plain; charset=utf-8",
          true,
        );
        return;
      }
      case "hang":
        return; // keep the socket open; close() destroys it
      case "stall": {
        const answer = Buffer.from(normal().body, "utf8");
        response.writeHead(200, { "content-type": json, "content-length": answer.length });
        response.write(answer.subarray(0, Math.max(0, Math.min(scripted.afterBytes, answer.length - 1))));
        return;
      }
      case "reset": {
        if (scripted.afterBytes === undefined) {
          request.socket.destroy();
          return;
        }
        const answer = Buffer.from(normal().body, "utf8");
        response.writeHead(200, { "content-type": json, "content-length": answer.length });
        const part = answer.subarray(0, Math.max(0, Math.min(scripted.afterBytes, answer.length - 1)));
        response.write(part, () => request.socket.resetAndDestroy());
        return;
      }
    }
  };

  const server: Server = createServer((request, response) => {
    inFlight++;
    let counted = true;
    const release = (): void => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    response.on("close", release);
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        response.end(JSON.stringify({ error: true, reason: `fake Open-Meteo failed: ${String(error)}` }));
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    forecastUrl: `${url}/v1/forecast`,
    archiveUrl: `${url}/v1/archive`,
    port,
    requests,
    sourceUrl: (source) => `${url}/sources/${source.name}.${source.format}`,
    usage: () => ({ ...counted }),
    close: async () => {
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}
