/**
 * How the load Lambda connects, against a real PostgreSQL server that accepts TLS only (as
 * rds.force_ssl = 1 makes RDS do) with a certificate from a test CA: the password comes from a
 * Secrets Manager secret read at run time, the certificate is verified against the CA bundle
 * file (chain and host name), and a rotated password is read again.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { expect } from "chai";
import { connectPostgres, deployedDatabaseConnector, WarehouseError } from "../../pipeline/warehouse";
import { createTestCertificates, startPostgresServer, type PostgresServer } from "../../pipeline/local/postgres-server";
import { startLocalSecretsManager, type LocalSecretsManager } from "../../pipeline/local/secrets-manager";
import { rejectionOf } from "../support/rejection";

const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-XyZ";

describe("the load Lambda's connection: managed secret and verified TLS", function () {
  this.timeout(120_000);
  let work: string;
  let server: PostgresServer;
  let secrets: LocalSecretsManager;
  let caFile: string;
  let otherCaFile: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "warehouse-tls-"));
    const certs = await createTestCertificates(work, "rds");
    const other = await createTestCertificates(work, "other");
    caFile = certs.caFile;
    otherCaFile = other.caFile;
    // Also on 127.0.0.2, an address the certificate does not name.
    server = await startPostgresServer({
      tls: { certFile: certs.certFile, keyFile: certs.keyFile, required: true },
      settings: { listen_addresses: "'127.0.0.1,127.0.0.2'" },
    });
    secrets = await startLocalSecretsManager({
      [SECRET]: JSON.stringify({ username: server.user, password: server.password }),
    });
  });
  after(async () => {
    await secrets?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const client = () =>
    new SecretsManagerClient({
      region: "eu-west-1",
      endpoint: secrets.endpoint,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
  const target = (overrides: { caFile?: string; host?: string } = {}) => ({
    host: overrides.host ?? "127.0.0.1",
    port: server.port,
    database: server.database,
    secretId: SECRET,
    caFile: overrides.caFile ?? caFile,
  });

  it("connects over TLS with the secret's credentials, verifying the certificate against the CA bundle", async () => {
    const db = await deployedDatabaseConnector(target(), client())();
    try {
      const [row] = await db.query<{ ssl: boolean; user: string }>(
        "SELECT ssl, current_user AS user FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()",
      );
      expect(row).to.deep.equal({ ssl: true, user: server.user });
    } finally {
      await db.close();
    }
    // Also by the name the certificate carries.
    const byName = await deployedDatabaseConnector(target({ host: "localhost" }), client())();
    await byName.close();
  });

  it("refuses a server whose certificate another CA signed", async () => {
    const error = await rejectionOf(deployedDatabaseConnector(target({ caFile: otherCaFile }), client())());
    expect(error).to.be.instanceOf(WarehouseError);
    expect(error.message).to.match(
      /self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer/,
    );
  });

  it("refuses a certificate that does not name the host", async () => {
    // The server listens on 127.0.0.2 too, but its certificate names only 127.0.0.1 and localhost.
    const error = await rejectionOf(
      connectPostgres({
        host: "127.0.0.2",
        port: server.port,
        database: server.database,
        user: server.user,
        password: server.password,
        caPem: readFileSync(caFile, "utf8"),
      }),
    );
    expect(error.message).to.match(/Hostname\/IP does not match certificate's altnames/);
  });

  it("cannot connect without TLS: the server refuses plain connections", async () => {
    const error = await rejectionOf(
      connectPostgres({
        host: "127.0.0.1",
        port: server.port,
        database: server.database,
        user: server.user,
        password: server.password,
      }),
    );
    expect(error.message).to.contain("no encryption");
  });

  it("names a missing CA bundle and a secret that is not RDS's {username, password}, never printing the value", async () => {
    const missing = await rejectionOf(
      deployedDatabaseConnector(target({ caFile: path.join(work, "nope.pem") }), client())(),
    );
    expect(missing.message).to.contain(`the CA bundle ${path.join(work, "nope.pem")} cannot be read`);
    secrets.secrets.set(`${SECRET}-plain`, "hunter2-plain-text");
    const plain = await rejectionOf(
      deployedDatabaseConnector({ ...target(), secretId: `${SECRET}-plain` }, client())(),
    );
    expect(plain.message).to.contain('is not the JSON {"username", "password"} RDS keeps');
    expect(plain.message).not.to.contain("hunter2");
    const unknown = await rejectionOf(
      deployedDatabaseConnector({ ...target(), secretId: `${SECRET}-gone` }, client())(),
    );
    expect(unknown.message).to.contain("could not read the database secret");
    expect(unknown.message).to.contain("ResourceNotFoundException");
  });

  it("reads the secret once per cold start, and again after the password was rotated", async () => {
    const connect = deployedDatabaseConnector(target(), client());
    secrets.requests.length = 0;
    await (await connect()).close();
    await (await connect()).close();
    expect(secrets.requests).to.have.lengthOf(1);
    // RDS rotates the managed secret: the server's password changes, then the secret.
    const rotated = "rotated-" + Math.random().toString(36).slice(2);
    const admin = await connect();
    await admin.query(`ALTER USER ${server.user} PASSWORD '${rotated}'`);
    await admin.close();
    secrets.secrets.set(SECRET, JSON.stringify({ username: server.user, password: rotated }));
    try {
      const db = await connect();
      expect(await db.query("SELECT 1 AS one")).to.deep.equal([{ one: 1 }]);
      await db.close();
      expect(secrets.requests).to.have.lengthOf(2);
    } finally {
      const db = await connect();
      await db.query(`ALTER USER ${server.user} PASSWORD '${server.password}'`);
      await db.close();
      secrets.secrets.set(SECRET, JSON.stringify({ username: server.user, password: server.password }));
    }
  });
});
