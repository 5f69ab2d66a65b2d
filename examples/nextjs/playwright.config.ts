import { defineConfig } from "@playwright/test";

// Debian's Chromium (no browser download); the app on NEXT_PORT, beefirst started by the setup.
const port = Number(process.env.NEXT_PORT ?? 3107);

export default defineConfig({
  testDir: "tests",
  globalSetup: "./tests/setup.ts",
  globalTeardown: "./tests/teardown.ts",
  workers: 1,
  timeout: 90_000,
  reporter: [["list"]],
  use: {
    baseURL: `http://localhost:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox"],
    },
  },
});
