/**
 * The two warehouse engines the load tests run against, each giving every test a database of
 * its own: a real PostgreSQL server (a new database per test) and embedded PGlite (a new
 * schema per test in one instance: a fresh PGlite takes 10-20 s to create on a busy machine).
 * Also curated Parquet files written with the one schema, for inputs the pipeline never makes.
 */
import { parquetWriteBuffer } from "hyparquet-writer";
import { curatedObjectKey, type Dataset } from "../../pipeline/core/keys";
import { datasetSchema, parquetSchemaElements } from "../../pipeline/core/schema";
import type { PipelineSettings } from "../../pipeline/core/settings";
import type { ObjectStore } from "../../pipeline/core/storage";
import { openPgliteWarehouse, type PgliteWarehouse } from "../../pipeline/local/pglite-warehouse";
import { startPostgresServer, type PostgresServer } from "../../pipeline/local/postgres-server";
import { connectPostgres, type WarehouseDatabase } from "../../pipeline/warehouse";

/** One engine: start it once, then a fresh isolated database per test. */
export interface WarehouseEngine {
  readonly name: string;
  start(): Promise<void>;
  fresh(): Promise<WarehouseDatabase>;
  stop(): Promise<void>;
  /** The real server, for the tests that stop it; undefined for PGlite. */
  readonly server: () => PostgresServer | undefined;
}

let counter = 0;

/** A real PostgreSQL server started for the suite (see pipeline/local/postgres-server.ts). */
export function postgresEngine(): WarehouseEngine {
  let server: PostgresServer | undefined;
  const open: WarehouseDatabase[] = [];
  return {
    name: "PostgreSQL server",
    server: () => server,
    async start() {
      server = await startPostgresServer({ settings: { fsync: "off", synchronous_commit: "off" } });
    },
    async fresh() {
      const name = `t${process.pid}_${++counter}`;
      await server!.psql(["-c", `CREATE DATABASE ${name}`]);
      const db = await connectPostgres({
        host: server!.host,
        port: server!.port,
        user: server!.user,
        password: server!.password,
        database: name,
      });
      open.push(db);
      return db;
    },
    async stop() {
      await Promise.all(open.map((db) => db.close()));
      await server?.close();
    },
  };
}

/** PGlite in memory, one schema per test. */
export function pgliteEngine(): WarehouseEngine {
  let pglite: PgliteWarehouse | undefined;
  return {
    name: "PGlite",
    server: () => undefined,
    async start() {
      pglite = await openPgliteWarehouse();
    },
    async fresh() {
      const schema = `t${++counter}`;
      await pglite!.query(`CREATE SCHEMA ${schema}`);
      await pglite!.query(`SET search_path TO ${schema}`);
      // Closing a test's database must not close the shared instance.
      return Object.assign(Object.create(pglite!) as PgliteWarehouse, { close: () => Promise.resolve() });
    },
    async stop() {
      await pglite?.close();
    },
  };
}

/** A row for a synthetic curated file: column name -> value. */
export type Row = Record<string, unknown>;

/** Writes a curated Parquet file of `rows` with the schema of `variables` (or exactly `columns`) at its canonical key. */
export async function putCuratedFile(
  store: ObjectStore,
  dataset: Dataset,
  date: string,
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables">,
  rows: readonly Row[],
): Promise<string> {
  const variables = dataset === "weather_hourly" ? settings.hourlyVariables : settings.dailyVariables;
  const schema = datasetSchema(dataset, variables);
  const buffer = parquetWriteBuffer({
    schema: parquetSchemaElements(schema),
    columnData: schema.columns.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name] ?? null) })),
  });
  const key = curatedObjectKey(dataset, date);
  await store.putObject(key, new Uint8Array(buffer), { contentType: "application/vnd.apache.parquet" });
  return key;
}

/** Hourly rows of `date` for `locations`, every variable a deterministic function of its position. */
export function hourlyRows(date: string, locations: readonly string[], variables: readonly string[], salt = 0): Row[] {
  const rows: Row[] = [];
  locations.forEach((location, l) => {
    for (let h = 0; h < 24; h++) {
      const row: Row = {
        location,
        latitude: 50 + l / 8,
        longitude: 10 - l / 16,
        elevation: l === 0 ? null : 30 + l,
        time: new Date(Date.parse(`${date}T00:00:00Z`) + h * 3_600_000),
      };
      variables.forEach(
        (v, i) => (row[v] = (l * 31 + h * 7 + i * 3 + salt) % 11 === 0 ? null : (l + 1) * 0.1 + h / 3 + i * 1.7 + salt),
      );
      rows.push(row);
    }
  });
  return rows;
}

/** Daily rows of `date` for `locations` (sunrise and sunset as instants). */
export function dailyRows(date: string, locations: readonly string[], variables: readonly string[], salt = 0): Row[] {
  return locations.map((location, l) => {
    const row: Row = { location, latitude: 50 + l / 8, longitude: 10 - l / 16, elevation: 30 + l };
    variables.forEach((v, i) => {
      row[v] =
        v === "sunrise" || v === "sunset"
          ? new Date(Date.parse(`${date}T${v === "sunrise" ? "06" : "18"}:0${l % 10}:00Z`))
          : l * 2.5 + i + salt;
    });
    return row;
  });
}
