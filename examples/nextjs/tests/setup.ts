// Starts what the tests run against: a fresh PostgreSQL database, an OpenID Connect provider,
// beefirst (the binary built by `cargo build`, console mailer, 30-second access tokens, passkeys
// and the provider for this app) and this app (`next start`, after `next build`). Their process ids and beefirst's log go to the environment the tests inherit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(__dirname, "..");
const port = Number(process.env.NEXT_PORT ?? 3107);

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The certified OpenID Connect provider beefirst's own tests use (tests/oidc-provider, Node's
 *  oidc-provider), with one client for beefirst; its login names are `subject~email~verified`. */
async function startProvider(beefirstPort: number): Promise<{ issuer: string; process: ChildProcess }> {
  const dir = path.resolve(root, "../../tests/oidc-provider");
  const port = await freePort();
  const log = path.join(tmpdir(), `beefirst-nextjs-provider-${process.pid}.log`);
  const provider = spawn(process.execPath, ["provider.mjs"], {
    cwd: dir,
    env: {
      NODE_ENV: "production",
      PATH: process.env.PATH,
      PORT: String(port),
      CLIENT_ID: "acme",
      CLIENT_SECRET: "acme-secret",
      REDIRECT_URI: `http://localhost:${beefirstPort}/idp/corp/callback`,
    },
    stdio: ["ignore", openSync(log, "w"), "inherit"],
  });
  const issuer = await until("the provider to listen (npm ci in tests/oidc-provider?)", 30, () => {
    const first = readFileSync(log, "utf8").split("\n")[0];
    return first.includes('"listening"') ? (JSON.parse(first).issuer as string) : undefined;
  });
  return { issuer, process: provider };
}

/** Fails when `port` is taken (a stale app there would answer the readiness probe). */
async function mustBeFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer()
      .once("error", () => reject(new Error(`port ${port} is in use: stop what listens there or set NEXT_PORT`)))
      .listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

export default async function setup() {
  const started: ChildProcess[] = [];
  try {
    await start(started);
  } catch (error) {
    for (const child of started) child.kill("SIGTERM");
    throw error;
  }
}

async function start(started: ChildProcess[]) {
  await mustBeFree(port);
  const binary = process.env.BEEFIRST_BIN ?? path.resolve(root, "../../target/debug/beefirst");
  const database = `beefirst_nextjs_${process.pid}`;
  const server = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432";
  execFileSync("psql", [`${server}/postgres`, "-Xqc", `DROP DATABASE IF EXISTS ${database}`, "-c", `CREATE DATABASE ${database}`]);

  const beefirstPort = await freePort();
  const provider = await startProvider(beefirstPort);
  started.push(provider.process);
  const log = path.join(tmpdir(), `beefirst-nextjs-${process.pid}.log`);
  const beefirst: ChildProcess = spawn(binary, [], {
    env: {
      NODE_ENV: "production",
      PATH: process.env.PATH,
      DATABASE_URL: `${server}/${database}`,
      BIND_ADDR: `127.0.0.1:${beefirstPort}`,
      PUBLIC_URL: `http://localhost:${beefirstPort}`,
      BCRYPT_COST: "4",
      ACCESS_TOKEN_TTL_SECONDS: "30",
      RATE_LIMIT_IP_PER_MINUTE: "0",
      RATE_LIMIT_EMAIL_PER_HOUR: "0",
      // Passkeys for this app's pages: bound to localhost, made on the app's origin.
      WEBAUTHN_RP_ID: "localhost",
      WEBAUTHN_ORIGINS: `http://localhost:${port}`,
      // Sign-in with another provider, coming back to this app.
      IDENTITY_PROVIDERS: "corp",
      IDP_CORP_ISSUER: provider.issuer,
      IDP_CORP_CLIENT_ID: "acme",
      IDP_CORP_CLIENT_SECRET: "acme-secret",
      REDIRECT_ALLOWED_URLS: `http://localhost:${port}/signin/provider/done`,
    },
    stdio: ["ignore", openSync(log, "w"), "inherit"],
  });
  started.push(beefirst);
  const addr = await until("beefirst to listen", 30, () => {
    const first = readFileSync(log, "utf8").split("\n")[0];
    return first.includes('"listening"') ? (JSON.parse(first).addr as string) : undefined;
  });

  const app: ChildProcess = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
    cwd: root,
    env: {
      ...process.env,
      BEEFIRST_URL: `http://${addr}`,
      BEEFIRST_PUBLIC_URL: `http://localhost:${beefirstPort}`,
      NODE_ENV: "production",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  started.push(app);
  await until("the app to answer", 60, async () => {
    if (app.exitCode !== null) throw new Error(`next start exited with ${app.exitCode}`);
    try {
      return (await fetch(`http://localhost:${port}/`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  });

  Object.assign(process.env, {
    BEEFIRST_TEST_URL: `http://${addr}`,
    BEEFIRST_PUBLIC_TEST_URL: `http://localhost:${beefirstPort}`,
    BEEFIRST_TEST_LOG: log,
    BEEFIRST_TEST_PIDS: `${beefirst.pid},${app.pid},${provider.process.pid}`,
    BEEFIRST_TEST_DATABASE: `${server}/postgres ${database}`,
    BEEFIRST_TEST_DATABASE_URL: `${server}/${database}`,
    BEEFIRST_TEST_BIN: binary,
  });
}
