/**
 * How the load Lambda reaches the database: the RDS-managed master secret read from Secrets
 * Manager at run time (never in code, state or logs), and TLS verified against a CA bundle file.
 * In Lambda that file is the runtime's own bundle of Amazon's CAs, /var/runtime/ca-cert.pem, which
 * holds the RDS certificate authorities; it is read for this connection only (NODE_EXTRA_CA_CERTS
 * would load it into every TLS context at start, which costs every cold start).
 */
import { readFileSync } from "node:fs";
import { GetSecretValueCommand, type GetSecretValueCommandOutput } from "@aws-sdk/client-secrets-manager";
import { WarehouseError, connectPostgres, type PostgresWarehouse } from "./database";

/** The CA bundle of the nodejs22.x runtime (Amazon's root and RDS CAs). */
export const LAMBDA_RUNTIME_CA_BUNDLE = "/var/runtime/ca-cert.pem";

/** The one Secrets Manager call the loader makes; a SecretsManagerClient fits. */
export interface SecretValueClient {
  send(command: GetSecretValueCommand): Promise<Pick<GetSecretValueCommandOutput, "SecretString">>;
}

/** Where the deployed database is and how to authenticate to it. */
export interface DeployedDatabase {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** ARN of the RDS-managed master user secret: JSON `{"username", "password"}`. */
  readonly secretId: string;
  /** PEM file of the CAs the server certificate must chain to; default LAMBDA_RUNTIME_CA_BUNDLE. */
  readonly caFile?: string;
}

interface Credentials {
  readonly username: string;
  readonly password: string;
}

async function readCredentials(secretId: string, client: SecretValueClient): Promise<Credentials> {
  let output: Pick<GetSecretValueCommandOutput, "SecretString">;
  try {
    output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new WarehouseError(
      `could not read the database secret ${secretId} (${detail}); check that it exists, that this function's role may secretsmanager:GetSecretValue on it, and that the VPC reaches Secrets Manager`,
      { cause: error },
    );
  }
  let parsed: Partial<Credentials> | undefined;
  try {
    parsed = JSON.parse(output.SecretString ?? "") as Partial<Credentials>;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed?.username !== "string" || typeof parsed.password !== "string") {
    // Never the value itself: it is the password.
    throw new WarehouseError(
      `the database secret ${secretId} is not the JSON {"username", "password"} RDS keeps; point the loader at the cluster's master user secret`,
    );
  }
  return { username: parsed.username, password: parsed.password };
}

function readCaBundle(caFile: string): string {
  try {
    return readFileSync(caFile, "utf8");
  } catch (error) {
    throw new WarehouseError(
      `the CA bundle ${caFile} cannot be read (${(error as Error).message}); the loader verifies the database's TLS certificate against it: use the nodejs22.x runtime (which has ${LAMBDA_RUNTIME_CA_BUNDLE}) or set WAREHOUSE_CA_FILE to a PEM bundle shipped with the function`,
      { cause: error },
    );
  }
}

/** PostgreSQL's SQLSTATE for a wrong password: the secret was rotated since it was read. */
const INVALID_PASSWORD = "28P01";

/**
 * Returns a connect function for the deployed database: credentials are read once per cold
 * start and again when the server says the password is wrong (RDS rotates the managed secret).
 */
export function deployedDatabaseConnector(
  target: DeployedDatabase,
  secrets: SecretValueClient,
): () => Promise<PostgresWarehouse> {
  let credentials: Promise<Credentials> | undefined;
  let caPem: string | undefined;
  const attempt = async () => {
    caPem ??= readCaBundle(target.caFile ?? LAMBDA_RUNTIME_CA_BUNDLE);
    credentials ??= readCredentials(target.secretId, secrets);
    let current: Credentials;
    try {
      current = await credentials;
    } catch (error) {
      credentials = undefined;
      throw error;
    }
    return connectPostgres({
      host: target.host,
      port: target.port,
      database: target.database,
      user: current.username,
      password: current.password,
      caPem,
    });
  };
  return async () => {
    try {
      return await attempt();
    } catch (error) {
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      if (code !== INVALID_PASSWORD) throw error;
      credentials = undefined;
      return attempt();
    }
  };
}

/** The environment variables the load Lambda finds its database in (set by the stack from the cluster). */
export const WAREHOUSE_ENVIRONMENT = {
  host: "WAREHOUSE_HOST",
  port: "WAREHOUSE_PORT",
  database: "WAREHOUSE_DATABASE",
  secretId: "WAREHOUSE_SECRET_ARN",
  caFile: "WAREHOUSE_CA_FILE",
} as const;

/** Reads DeployedDatabase from the function's environment; names a missing or bad variable. */
export function deployedDatabaseFromEnvironment(env: Readonly<Record<string, string | undefined>>): DeployedDatabase {
  const read = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") {
      throw new WarehouseError(
        `the load function's environment has no ${name}; the stack sets it from the database cluster: run pulumi up`,
      );
    }
    return value;
  };
  const port = Number(read(WAREHOUSE_ENVIRONMENT.port));
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new WarehouseError(
      `${WAREHOUSE_ENVIRONMENT.port} is ${JSON.stringify(env[WAREHOUSE_ENVIRONMENT.port])}; it must be a TCP port`,
    );
  }
  const caFile = env[WAREHOUSE_ENVIRONMENT.caFile];
  return {
    host: read(WAREHOUSE_ENVIRONMENT.host),
    port,
    database: read(WAREHOUSE_ENVIRONMENT.database),
    secretId: read(WAREHOUSE_ENVIRONMENT.secretId),
    ...(caFile ? { caFile } : {}),
  };
}
