/**
 * A real PostgreSQL server on 127.0.0.1 for tests and the benchmark: Debian's `postgresql`
 * binaries (initdb, pg_ctl), a new cluster in a temporary folder, a free port, its Unix socket
 * in that folder, password (SCRAM) authentication over TCP, optionally TLS only. PostgreSQL
 * refuses to run as root, so when this process is root (CI) the cluster belongs to and runs as
 * `nobody`; a developer's cluster runs as the developer.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
  appendFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The user a root process runs the cluster as. */
const UNPRIVILEGED = { name: "nobody", uid: 65534, gid: 65534 } as const;

/** TLS files of a server: its certificate chain and key (PEM). */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** Refuse plain TCP connections, as rds.force_ssl does. */
  readonly required: boolean;
}

/** A running local PostgreSQL cluster. */
export interface PostgresServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly dataDir: string;
  /** postgres://user:password@127.0.0.1:port/database */
  readonly url: string;
  /** Stops the server: "fast" (clean) or "immediate" (as if the machine lost power). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Runs psql against it with `args`, returning stdout. */
  psql(args: readonly string[], input?: string): Promise<string>;
  /** Stops the server and deletes its folder. */
  close(): Promise<void>;
}

/** The folder of the newest installed PostgreSQL server binaries, or an error saying how to install them. */
export function postgresBinDir(): string {
  const fromEnv = process.env["PG_BIN_DIR"];
  if (fromEnv) return fromEnv;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; install Debian's postgresql package " +
        "(apt-get install postgresql; .ci/run does) or set PG_BIN_DIR to the folder with initdb and pg_ctl",
    );
  }
  return path.join(root, versions[0] as string, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a server binary as the cluster's owner; rejects with its output on failure. */
function runAsOwner(file: string, args: readonly string[]): Promise<string> {
  const owner = isRoot() ? { uid: UNPRIVILEGED.uid, gid: UNPRIVILEGED.gid } : {};
  return new Promise((resolve, reject) => {
    // pg_ctl start leaves the server running with our pipes open: its output goes to a log file,
    // and stdio is ignored here so this promise settles when pg_ctl itself exits.
    const child = spawn(file, [...args], {
      ...owner,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${path.basename(file)} ${args.join(" ")} exited ${code}: ${output}`)),
    );
  });
}

/** Gives the cluster's owner a file or folder (a no-op when not root). */
function giveToOwner(file: string): void {
  if (isRoot()) chownSync(file, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
}

/** Starts a new cluster; `settings` are extra postgresql.conf lines (e.g. fsync = off). */
export async function startPostgresServer(
  options: { tls?: ServerTls; settings?: Readonly<Record<string, string>>; database?: string } = {},
): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const root = mkdtempSync(path.join(tmpdir(), "pg-"));
  chmodSync(root, 0o700);
  giveToOwner(root);
  const dataDir = path.join(root, "data");
  const user = "postgres";
  const password = randomBytes(12).toString("hex");
  const passwordFile = path.join(root, "password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  giveToOwner(passwordFile);
  await runAsOwner(path.join(bin, "initdb"), [
    "-D",
    dataDir,
    "-U",
    user,
    `--pwfile=${passwordFile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--encoding=UTF8",
    "--no-instructions",
  ]);
  rmSync(passwordFile);
  const port = await freePort();
  const conf: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    port: String(port),
    unix_socket_directories: `'${root}'`,
    timezone: "'UTC'",
    ...(options.settings ?? {}),
  };
  if (options.tls) {
    // Copies the server can read (the caller's folder may not be open to it); the key must be 0600.
    const certFile = path.join(root, "server.pem");
    const keyFile = path.join(root, "server.key");
    copyFileSync(options.tls.certFile, certFile);
    copyFileSync(options.tls.keyFile, keyFile);
    for (const file of [certFile, keyFile]) {
      chmodSync(file, 0o600);
      giveToOwner(file);
    }
    conf["ssl"] = "on";
    conf["ssl_cert_file"] = `'${certFile}'`;
    conf["ssl_key_file"] = `'${keyFile}'`;
  }
  appendFileSync(
    path.join(dataDir, "postgresql.conf"),
    Object.entries(conf)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join(""),
  );
  if (options.tls?.required) {
    // What rds.force_ssl = 1 does: TLS connections only.
    writeFileSync(
      path.join(dataDir, "pg_hba.conf"),
      "local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\nhostnossl all all 127.0.0.0/8 reject\n",
    );
    giveToOwner(path.join(dataDir, "pg_hba.conf"));
  }
  const logFile = path.join(root, "server.log");
  const pgCtl = path.join(bin, "pg_ctl");
  const start = async () => {
    await runAsOwner(pgCtl, ["start", "-D", dataDir, "-l", logFile, "-w", "-t", "120"]);
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await runAsOwner(pgCtl, ["stop", "-D", dataDir, "-m", mode, "-w", "-t", "120"]);
  };
  await start();
  const database = options.database ?? "weather";
  const psql = async (args: readonly string[], input?: string, db = database): Promise<string> => {
    const child = execFileAsync(
      "psql",
      ["-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, ...args],
      {
        env: { ...process.env, PGPASSWORD: password, PGSSLMODE: options.tls ? "require" : "prefer" },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    return (await child).stdout;
  };
  await psql(["-c", `CREATE DATABASE ${database}`], undefined, "postgres");
  let closed = false;
  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    database,
    dataDir,
    url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`,
    stop,
    start,
    psql: (args, input) => psql(args, input),
    close: async () => {
      if (closed) return;
      closed = true;
      await stop("immediate").catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A test certificate authority and a server certificate it signed for 127.0.0.1 and localhost. */
export interface TestCertificates {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Makes a CA and a server certificate with openssl in `directory` (for TLS tests only). */
export async function createTestCertificates(directory: string, name = "test"): Promise<TestCertificates> {
  const file = (f: string) => path.join(directory, `${name}-${f}`);
  const openssl = (args: string[]) => execFileAsync("openssl", args);
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name} test CA`,
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
  ]);
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
  ]);
  writeFileSync(file("ext.cnf"), "subjectAltName = IP:127.0.0.1, DNS:localhost\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    file("ext.cnf"),
    "-out",
    file("server.pem"),
  ]);
  return { caFile: file("ca.pem"), certFile: file("server.pem"), keyFile: file("server.key") };
}
