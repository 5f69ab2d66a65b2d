// Starts what the tests run against: a fresh PostgreSQL database, beefirst (the binary built by
// `cargo build`, console mailer, 30-second access tokens) and this app (`next start`, after
// `next build`). Their process ids and beefirst's log go to the environment the tests inherit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
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

export default async function setup() {
  const binary = process.env.BEEFIRST_BIN ?? path.resolve(root, "../../target/debug/beefirst");
  const database = `beefirst_nextjs_${process.pid}`;
  const server = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432";
  execFileSync("psql", [`${server}/postgres`, "-Xqc", `DROP DATABASE IF EXISTS ${database}`, "-c", `CREATE DATABASE ${database}`]);

  const log = path.join(tmpdir(), `beefirst-nextjs-${process.pid}.log`);
  const beefirst: ChildProcess = spawn(binary, [], {
    env: {
      NODE_ENV: "production",
      PATH: process.env.PATH,
      DATABASE_URL: `${server}/${database}`,
      BIND_ADDR: "127.0.0.1:0",
      BCRYPT_COST: "4",
      ACCESS_TOKEN_TTL_SECONDS: "30",
      RATE_LIMIT_IP_PER_MINUTE: "0",
      RATE_LIMIT_EMAIL_PER_HOUR: "0",
    },
    stdio: ["ignore", openSync(log, "w"), "inherit"],
  });
  const addr = await until("beefirst to listen", 30, () => {
    const first = readFileSync(log, "utf8").split("\n")[0];
    return first.includes('"listening"') ? (JSON.parse(first).addr as string) : undefined;
  });

  const app: ChildProcess = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
    cwd: root,
    env: { ...process.env, BEEFIRST_URL: `http://${addr}`, NODE_ENV: "production" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  await until("the app to answer", 60, async () => {
    try {
      return (await fetch(`http://localhost:${port}/`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  });

  Object.assign(process.env, {
    BEEFIRST_TEST_URL: `http://${addr}`,
    BEEFIRST_TEST_LOG: log,
    BEEFIRST_TEST_PIDS: `${beefirst.pid},${app.pid}`,
    BEEFIRST_TEST_DATABASE: `${server}/postgres ${database}`,
    BEEFIRST_TEST_DATABASE_URL: `${server}/${database}`,
    BEEFIRST_TEST_BIN: binary,
  });
}
