import { test, expect } from "@playwright/test";
import { call, openBranch, openWorkspace, sandboxedRepositoryAdded } from "./helpers";

test("a sandbox is started from the branch view, runs a command and stops", async ({ page }) => {
  const repository = await sandboxedRepositoryAdded(page.request);
  await call(page.request, "create_branch", {
    repository_id: repository.id,
    name: "try-sandbox",
    base_branch: "main",
    agent: "claude-code",
    model: "sonnet",
  });
  await openBranch(page, `/r/${repository.owner}/app/try-sandbox`);
  const sandbox = page.getByTestId("sandbox");
  await expect(sandbox.getByTestId("sandbox-state")).toContainText("No sandbox");

  // The preparation shows its steps as they happen, then the sandbox runs. A local sandbox
  // can be ready in a fraction of a second, too soon for polling to catch the steps, so the
  // page records every text the steps list shows.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seenSteps: string[] }).seenSteps = seen;
    new MutationObserver(() => {
      const steps = document.querySelector('[data-testid="sandbox-steps"]');
      if (steps?.textContent) seen.push(steps.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await sandbox.getByRole("button", { name: "Start sandbox" }).click();
  await expect(sandbox.getByTestId("sandbox-state")).toContainText("Running", { timeout: 30_000 });
  const seen = await page.evaluate(() => (window as unknown as { seenSteps: string[] }).seenSteps);
  expect(seen.join("\n"), "the steps were shown").toContain(`Clone ${repository.owner}/app`);
  expect(seen.join("\n"), "the steps were shown").toContain("Check out try-sandbox");

  await sandbox.getByLabel("Run a command").fill("ls");
  await sandbox.getByRole("button", { name: "Run", exact: true }).click();
  const output = sandbox.getByTestId("command-output");
  await expect(output).toContainText("README.md");
  await expect(output).toContainText("main.rs");
  await expect(sandbox.getByTestId("command-exit")).toHaveText("[exit 0]");

  await sandbox.getByLabel("Run a command").fill("echo oops >&2; exit 4");
  await sandbox.getByRole("button", { name: "Run", exact: true }).click();
  await expect(sandbox.getByTestId("command-exit")).toHaveText("[exit 4]");
  await expect(output).toContainText("oops");

  await sandbox.getByRole("button", { name: "Stop", exact: true }).click();
  await expect(sandbox.getByTestId("sandbox-state")).toContainText("Stopped");
  await expect(sandbox.getByLabel("Run a command")).toBeHidden();

  // The state is the server's: a reload shows the sandbox stopped.
  await page.reload();
  await expect(page.getByTestId("sandbox-state")).toContainText("Stopped");
});

test("the auto-stop interval is kept after a reload and refused out of range", async ({ page }) => {
  await openWorkspace(page, "/settings");
  // The page has a form (and a Save button) per setting.
  const form = page.locator('form[action="/api/set_auto_stop"]');
  const field = form.getByLabel("Stop an idle sandbox after (minutes)");
  await expect(field).toHaveValue("10");
  await field.fill("30");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form.getByRole("alert")).toHaveText("choose between 5 and 20 minutes");
  await form.getByLabel("Stop an idle sandbox after (minutes)").fill("15");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/settings\??$/);
  await expect(page.getByRole("alert")).toHaveCount(0);
  await page.reload();
  await expect(form.getByLabel("Stop an idle sandbox after (minutes)")).toHaveValue("15");
});

test("repository variables are set write-only and reach the sandbox", async ({ page }) => {
  const repositories = (await call(page.request, "get_workspace", {})).repositories;
  const repository = repositories.find((r: { name: string }) => r.name === "app");
  await openWorkspace(page, `/repositories/${repository.owner}/app/settings`);
  await page.getByLabel("Variable name").fill("GREETING");
  await page.getByLabel("Value").fill("hello-from-settings");
  await page.getByRole("button", { name: "Set", exact: true }).click();
  await expect(page.getByTestId("env-names")).toContainText("GREETING");

  await page.getByLabel("Variable name").fill("NOT VALID");
  await page.getByLabel("Value").fill("x");
  await page.getByRole("button", { name: "Set", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("letters, digits and underscores");

  await page.reload();
  await expect(page.getByTestId("env-names")).toContainText("GREETING");
  await expect(page.getByText("hello-from-settings")).toHaveCount(0);
  expect(await page.content()).not.toContain("hello-from-settings");

  await openBranch(page, `/r/${repository.owner}/app/try-sandbox`);
  const sandbox = page.getByTestId("sandbox");
  await sandbox.getByRole("button", { name: "Start sandbox" }).click();
  await expect(sandbox.getByTestId("sandbox-state")).toContainText("Running", { timeout: 30_000 });
  await sandbox.getByLabel("Run a command").fill('echo "$GREETING"');
  await sandbox.getByRole("button", { name: "Run", exact: true }).click();
  await expect(sandbox.getByTestId("command-output")).toContainText("hello-from-settings");
});
