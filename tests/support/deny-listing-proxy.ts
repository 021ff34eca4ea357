/**
 * An HTTP proxy on 127.0.0.1 in front of the local S3 server (s3rver) that answers as AWS S3
 * answers a reader who may not list the bucket (no s3:ListBucket): a GET or HEAD of a key that
 * does not exist gets 403 AccessDenied instead of 404 NoSuchKey. Everything else passes through
 * unchanged, signatures included (the Host header is forwarded as signed).
 *
 * Stand-in until the local s3rver learns this itself (a patch with a missing-key-answer option
 * is under way); then tests can start that instead.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { LOCAL_S3_CREDENTIALS } from "../../pipeline/local/s3-server";

/** A running proxy. */
export interface DenyListingProxy {
  readonly endpoint: string;
  /** A client for the proxy, as for the local S3 server. */
  client(): S3Client;
  /** Requests answered 403 instead of 404, e.g. "GET /bucket/key". */
  readonly denied: readonly string[];
  close(): Promise<void>;
}

/** What S3 sends for AccessDenied (RequestId and HostId vary per request). */
function accessDeniedXml(): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>" +
    "<RequestId>DENYLISTINGPROXY</RequestId><HostId>denied-by-local-proxy</HostId></Error>"
  );
}

/** An object request: /<bucket>/<key>, not a bucket listing (/<bucket> or /<bucket>/?list-type=2). */
function isObjectRequest(url: string): boolean {
  const pathname = new URL(url, "http://local").pathname;
  return /^\/[^/]+\/.+/.test(pathname);
}

/** Starts the proxy in front of `target` (e.g. http://127.0.0.1:4568). */
export async function startDenyListingProxy(target: string): Promise<DenyListingProxy> {
  const upstream = new URL(target);
  const denied: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const method = req.method ?? "";
        if (answer.statusCode === 404 && ["GET", "HEAD"].includes(method) && isObjectRequest(req.url ?? "")) {
          answer.resume();
          denied.push(`${method} ${req.url}`);
          const body = accessDeniedXml();
          res.writeHead(403, {
            "content-type": "application/xml",
            "x-amz-request-id": "DENYLISTINGPROXY",
            ...(method === "GET" ? { "content-length": Buffer.byteLength(body) } : {}),
          });
          res.end(method === "GET" ? body : undefined);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", (error) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(error));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    denied,
    client: () =>
      new S3Client({ endpoint, forcePathStyle: true, region: "us-east-1", credentials: LOCAL_S3_CREDENTIALS }),
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
