// Stops what the setup started and drops its database.
import { execFileSync } from "node:child_process";

export default async function teardown() {
  for (const pid of (process.env.BEEFIRST_TEST_PIDS ?? "").split(",").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGTERM");
    } catch {
      // already gone
    }
  }
  const [server, database] = (process.env.BEEFIRST_TEST_DATABASE ?? "").split(" ");
  if (database) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    execFileSync("psql", [server, "-Xqc", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
  }
}
