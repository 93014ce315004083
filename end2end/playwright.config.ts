import { defineConfig, devices } from "@playwright/test";
import path from "node:path";

// The end-to-end run starts the real server (built by `cargo leptos build`), the fake
// GitHub and the scripted model server the agents talk to, all from target/. `.ci/e2e` prepares E2E_DIR (a fresh data directory and a
// local git repository) and DATABASE_URL, then runs `npx playwright test`.
const root = path.resolve(__dirname, "..");
const dir = process.env.E2E_DIR;
if (!dir) {
  throw new Error("E2E_DIR is not set: run the end-to-end tests through .ci/e2e");
}
const port = 3300;
const fakePort = 3301;
/** A second server on the same database that signs people in with GitHub OAuth. */
export const oauthPort = 3302;
/** The scripted model server: every agent's API base URL points here, and any key works. */
const modelPort = 3303;
const models = `http://127.0.0.1:${modelPort}`;
const database = process.env.DATABASE_URL ?? `sqlite://${dir}/data/upstream.db?mode=rwc`;
const common = {
  DATA_DIR: `${dir}/data`,
  DATABASE_URL: database,
  ENCRYPTION_KEY: "5e".repeat(32),
  GITHUB_API_URL: `http://127.0.0.1:${fakePort}`,
  GITHUB_WEB_URL: `http://127.0.0.1:${fakePort}`,
  LEPTOS_SITE_ROOT: `${root}/target/site`,
  RUST_LOG: "warn",
  ANTHROPIC_BASE_URL: models,
  OPENAI_BASE_URL: models,
  OPENCODE_BASE_URL: models,
  // The agents' CLIs, shared with the Rust tests; the first run of each installs it.
  AGENT_TOOLS_DIR: `${root}/target/agent-tools`,
};

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: [
    {
      command: `${root}/target/debug/fake-services 127.0.0.1:${fakePort} 127.0.0.1:${modelPort}`,
      port: fakePort,
      reuseExistingServer: false,
    },
    {
      command: `${root}/target/debug/upstream`,
      url: `http://127.0.0.1:${port}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      env: { ...common, BIND_ADDRESS: `127.0.0.1:${port}`, GITHUB_PAT: "gho_octo" },
    },
    {
      command: `${root}/target/debug/upstream`,
      url: `http://127.0.0.1:${oauthPort}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: {
        ...common,
        BIND_ADDRESS: `127.0.0.1:${oauthPort}`,
        GITHUB_CLIENT_ID: "fake-client-id",
        GITHUB_CLIENT_SECRET: "fake-client-secret",
      },
    },
  ],
});
