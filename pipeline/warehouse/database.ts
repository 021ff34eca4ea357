/**
 * The one interface the loader talks to, with two implementations: PostgreSQL over the wire
 * (`pg` + `pg-copy-streams`, here: the Lambda, a local server, RDS) and embedded PGlite
 * (pipeline/local/pglite-warehouse.ts, the local default). Both return the same JavaScript
 * values for the same SQL: text -> string, double precision -> number, timestamptz -> Date,
 * date -> "YYYY-MM-DD" string, bigint -> number.
 */
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { Client, types, type ClientConfig } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PipelineError } from "../core/errors";
import { quoteIdentifier } from "./tables";

/**
 * The error name of a database failure a later attempt can get past: the server unreachable,
 * shutting down, resuming from a pause, out of connections, or the connection lost mid-load.
 * The state machine retries it; every other load failure is caught and alerted at once.
 */
export const WAREHOUSE_UNAVAILABLE_ERROR_NAME = "WarehouseUnavailableError";

/** A database failure a retry can fix (see WAREHOUSE_UNAVAILABLE_ERROR_NAME). */
export class WarehouseUnavailableError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(WAREHOUSE_UNAVAILABLE_ERROR_NAME, message, options);
  }
}

/** A load failure no retry fixes: bad input, a schema conflict, SQL the server refuses. */
export class WarehouseError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WarehouseError", message, options);
  }
}

/** Queries and COPY inside one connection or transaction. */
export interface WarehouseSession {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * `COPY <table> (<columns>) FROM STDIN` in PostgreSQL's text format, fed from `chunks`
   * (rows ending in "\n"); returns the number of rows the server copied.
   */
  copyRows(table: string, columns: readonly string[], chunks: Iterable<string>): Promise<number>;
}

/** A warehouse database: sessions, transactions, and closing it. */
export interface WarehouseDatabase extends WarehouseSession {
  /** Where it is, for messages, without a password (e.g. postgres://loader@host:5432/weather). */
  readonly description: string;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The COPY statement both implementations send (PGlite replaces STDIN with its blob device). */
export function copyStatement(table: string, columns: readonly string[], source = "STDIN"): string {
  return `COPY ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(", ")}) FROM ${source}`;
}

// SQLSTATE classes and codes that mean "try again later" (PostgreSQL Appendix A): connection
// exceptions, insufficient resources, operator intervention (admin shutdown, crash shutdown,
// cannot connect now: the server is starting or resuming), serialization failure and deadlock.
const TRANSIENT_SQLSTATE_CLASSES = ["08", "53", "57"];
const TRANSIENT_SQLSTATES = ["40001", "40P01"];
// Node's socket errors when the server is unreachable or goes away.
const TRANSIENT_NODE_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
];
const CONNECTION_LOST =
  /Connection terminated|connection is closed|Client was closed|timeout expired|Connection ended/i;

/** True when a pg error is worth retrying (see WAREHOUSE_UNAVAILABLE_ERROR_NAME). */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof WarehouseUnavailableError) return true;
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (TRANSIENT_NODE_CODES.includes(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code)) {
    return TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2)) || TRANSIENT_SQLSTATES.includes(code);
  }
  return typeof e?.message === "string" && CONNECTION_LOST.test(e.message);
}

/** Wraps a driver error in WarehouseUnavailableError or WarehouseError, naming where and what. */
export function classifyDatabaseError(error: unknown, where: string): PipelineError {
  if (error instanceof WarehouseError || error instanceof WarehouseUnavailableError) return error;
  const e = error as { code?: unknown; message?: unknown; detail?: unknown } | null;
  const code = typeof e?.code === "string" ? ` [${e.code}]` : "";
  const detail = typeof e?.detail === "string" ? ` (${e.detail})` : "";
  const message = `${where}: ${typeof e?.message === "string" ? e.message : String(error)}${code}${detail}`;
  return isTransientDatabaseError(error)
    ? new WarehouseUnavailableError(message, { cause: error })
    : new WarehouseError(message, { cause: error });
}

/** Where and how to reach a PostgreSQL server. */
export interface PostgresConnectionOptions {
  /** A `postgres://` URL (sslmode and the other libpq parameters `pg` reads are honoured)... */
  readonly connectionString?: string;
  /** ...or its parts. */
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
  /**
   * TLS: the PEM of the certificate authorities trusted for this server. The server's
   * certificate must chain to one of them and name the host (verify-full); the system's
   * default roots are not used for this connection.
   */
  readonly caPem?: string;
  /** Milliseconds to wait for the connection; default 30,000 (an Aurora Serverless v2 resume takes about 15 s). */
  readonly connectTimeoutMs?: number;
}

// One set of type parsers per client (not pg's global ones): dates stay calendar dates, not
// local-midnight Date objects, and bigint counts are numbers, as PGlite returns them.
const DATE_OID = 1082;
const INT8_OID = 20;
const PARSERS = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === DATE_OID) return (value: string) => value;
    if (oid === INT8_OID) return (value: string) => Number(value);
    return (types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
  },
};

/** A WarehouseDatabase over one `pg` connection. */
export class PostgresWarehouse implements WarehouseDatabase {
  readonly description: string;
  private readonly client: Client;
  private inTransaction: boolean;

  /** Wraps a connected client; use connectPostgres to open one. */
  constructor(client: Client, description: string) {
    this.client = client;
    this.description = description;
    this.inTransaction = false;
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    try {
      const result = await this.client.query(sql, [...params]);
      return result.rows as R[];
    } catch (error) {
      throw classifyDatabaseError(error, `${this.description}: ${sql.slice(0, 120)}`);
    }
  }

  async copyRows(table: string, columns: readonly string[], chunks: Iterable<string>): Promise<number> {
    const stream = this.client.query(copyFrom(copyStatement(table, columns)));
    try {
      // pipeline: backpressure from the socket, and an error on either side ends both.
      await pipeline(Readable.from(chunks, { objectMode: false }), stream);
    } catch (error) {
      throw classifyDatabaseError(error, `${this.description}: COPY ${table}`);
    }
    return stream.rowCount;
  }

  async transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T> {
    if (this.inTransaction) throw new WarehouseError(`${this.description}: transactions do not nest`);
    this.inTransaction = true;
    try {
      await this.query("BEGIN");
      let result: T;
      try {
        result = await work(this);
      } catch (error) {
        // A lost connection cannot roll back; the server does it when the session ends.
        await this.client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
      await this.query("COMMIT");
      return result;
    } finally {
      this.inTransaction = false;
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** Opens a connection; a failure to connect is a WarehouseUnavailableError (retried) or WarehouseError. */
export async function connectPostgres(options: PostgresConnectionOptions): Promise<PostgresWarehouse> {
  const config: ClientConfig = {
    connectionString: options.connectionString,
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.user,
    password: options.password,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    types: PARSERS,
    application_name: "weather-pipeline-load",
  };
  if (options.caPem !== undefined) {
    // Only our CAs, and Node's default hostname check: libpq's verify-full.
    config.ssl = { ca: options.caPem, rejectUnauthorized: true };
  }
  const client = new Client(config);
  const description = describeConnection(options, client);
  // A server that goes away emits 'error' on an idle client; without a listener Node exits.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyDatabaseError(error, `connecting to ${description}`);
  }
  return new PostgresWarehouse(client, description);
}

function describeConnection(options: PostgresConnectionOptions, client: Client): string {
  const c = client as unknown as { host?: string; port?: number; database?: string; user?: string };
  return `postgres://${c.user ?? options.user ?? ""}@${c.host ?? options.host ?? ""}:${c.port ?? options.port ?? 5432}/${c.database ?? options.database ?? ""}`;
}
