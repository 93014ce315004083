import { test, expect, Page } from "@playwright/test";
import { call, newBranch, openBranch, openWorkspace, setAgentKey } from "./helpers";

// Every agent talks to the scripted model server, whose replies follow the prompt:
// "Run: CMD" calls the shell tool, "Say: TEXT" answers TEXT, and loop mode's continuation
// prompt is answered FINISHED once a prompt's "FINISHED-AFTER N" count is reached.

/** The first run on a fresh machine installs the agent's CLI, which takes a while. */
const FIRST_RUN = 120_000;

test.beforeEach(async ({ page }) => {
  await setAgentKey(page.request, "anthropic", "sk-ant-e2e-0000-key1");
});

/** The prompt box of the branch page. */
function promptBox(page: Page) {
  return page.getByLabel("Prompt", { exact: true });
}

/** The conversation's own buttons, apart from the sandbox panel's. */
function conversation(page: Page) {
  return page.getByTestId("conversation");
}

/** The finished replies, newest last. */
function replies(page: Page) {
  return page.getByTestId("messages").locator('article[data-role="assistant"][data-status]');
}

test("an agent key is kept sealed, and a prompt without its key links to the settings", async ({
  page,
}) => {
  await openWorkspace(page, "/settings");
  const form = page.locator('form[data-key="opencode"]');
  await form.getByLabel("OpenCode key (OpenCode)").fill("oc-e2e-secret-9876");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("key-state-opencode")).toHaveText("Set, ending in …9876");
  expect(await page.content()).not.toContain("oc-e2e-secret");

  // No OpenAI key is set: Codex cannot run, and the page says where to add one.
  const branch = await newBranch(page.request, "run-without-key");
  await openBranch(page, branch.path);
  await conversation(page).getByLabel("Agent").selectOption("codex");
  await promptBox(page).fill("Say: hello");
  await promptBox(page).press("Enter");
  await expect(conversation(page).getByRole("alert")).toContainText("Codex needs your");
  await conversation(page).getByRole("link", { name: "Open settings to add the key" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByTestId("key-state-openai")).toHaveText("Not set");
});

test("a prompt sent with Enter shows its tool call as it runs, then the reply with usage", async ({
  page,
}) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-live");
  await openBranch(page, branch.path);
  await expect(conversation(page)).toContainText("No conversation yet");

  // Shift+Enter starts a new line; nothing is sent.
  await promptBox(page).pressSequentially("first line");
  await promptBox(page).press("Shift+Enter");
  await promptBox(page).pressSequentially("second line");
  await expect(promptBox(page)).toHaveValue("first line\nsecond line");
  await expect(page.locator('article[data-role="user"]')).toHaveCount(0);

  await promptBox(page).fill("Run: sleep 4 && echo from-the-tool");
  await promptBox(page).press("Enter");
  await expect(promptBox(page)).toHaveValue("");
  await expect(page.locator('article[data-role="user"]')).toContainText(
    "Run: sleep 4 && echo from-the-tool",
  );

  // While the command runs, its card is drawn from the live events.
  const live = page.getByTestId("live-run");
  const card = live.getByTestId("tool-card");
  await expect(card).toHaveAttribute("data-state", "running", { timeout: FIRST_RUN - 30_000 });
  await expect(card).toContainText("sleep 4 && echo from-the-tool");
  await expect(conversation(page)).toHaveAttribute("data-running", "true");
  // The page's header, drawn by the server, follows the branch's status too.
  const badge = page.locator("h1 [data-status]");
  const status = page.locator("dd[data-status-of]");
  await expect(badge).toHaveAttribute("data-status", "running");
  await expect(status).toHaveText("running");

  // Then the finished reply takes its place, with the tool's output and the usage.
  const reply = replies(page);
  await expect(reply).toHaveAttribute("data-status", "completed", { timeout: 20_000 });
  await expect(live).toHaveCount(0);
  const finished = reply.getByTestId("tool-card");
  await expect(finished).toHaveCount(1);
  await expect(finished).toHaveAttribute("data-state", "completed");
  await finished.locator("summary").click();
  await expect(finished).toContainText("from-the-tool");
  await expect(reply).toContainText("Done.");
  await expect(reply.getByTestId("usage")).toContainText(/\d+ tokens in/);
  await expect(conversation(page)).toHaveAttribute("data-running", "false");
  await expect(badge).toHaveAttribute("data-status", "idle");
  await expect(status).toHaveText("idle");
});

test("a reload in the middle of a run shows the run under way and follows it to the end", async ({
  page,
}) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-reload");
  await openBranch(page, branch.path);
  await promptBox(page).fill("Run: sleep 5 && echo after-the-reload");
  await promptBox(page).press("Enter");
  const card = page.getByTestId("live-run").getByTestId("tool-card");
  await expect(card).toHaveAttribute("data-state", "running", { timeout: FIRST_RUN - 30_000 });

  await page.reload();
  await expect(card).toHaveCount(1);
  await expect(card).toHaveAttribute("data-state", "running");
  await expect(card).toContainText("sleep 5 && echo after-the-reload");

  // The events the page read and those that stream in after it are not shown twice.
  await expect(replies(page)).toHaveAttribute("data-status", "completed", { timeout: 20_000 });
  await expect(page.getByTestId("live-run")).toHaveCount(0);
  await expect(page.getByTestId("tool-card")).toHaveCount(1);
  await expect(page.locator('article[data-role="user"]')).toHaveCount(1);
  await expect(replies(page)).toHaveCount(1);
});

test("a second page on the same branch sees the same run as it happens", async ({
  page,
  browser,
}) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-two-pages");
  // Another browser: the dev user is signed in there too.
  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  await openBranch(page, branch.path);
  await openBranch(other, branch.path);

  await promptBox(page).fill("Run: sleep 4 && echo seen-twice");
  await promptBox(page).press("Enter");
  for (const view of [page, other]) {
    const card = view.getByTestId("live-run").getByTestId("tool-card");
    await expect(card).toHaveAttribute("data-state", "running", { timeout: FIRST_RUN - 30_000 });
    await expect(card).toContainText("sleep 4 && echo seen-twice");
  }
  await expect(other.locator('article[data-role="user"]')).toContainText("seen-twice");
  await expect(replies(other)).toHaveAttribute("data-status", "completed", { timeout: 20_000 });
  await expect(replies(other)).toContainText("Done.");
  await expect(replies(page)).toHaveAttribute("data-status", "completed");
  await elsewhere.close();
});

test("three pages open on branches still leave the browser connections to work with", async ({
  page,
}) => {
  // A browser opens at most six connections to a server over plain HTTP/1.1; each page
  // holds one stream open, and the third page must still load and send.
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-three-pages");
  const pages = [page, await page.context().newPage(), await page.context().newPage()];
  for (const view of pages) {
    await openBranch(view, branch.path);
  }
  await promptBox(pages[2]).fill("Say: sent from the third page");
  await promptBox(pages[2]).press("Enter");
  for (const view of pages) {
    await expect(replies(view)).toContainText("sent from the third page", {
      timeout: FIRST_RUN - 30_000,
    });
  }
});

test("a long run is stopped with the Stop button and shows as stopped", async ({ page }) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-stop");
  await openBranch(page, branch.path);
  await promptBox(page).fill("Run: sleep 300");
  await promptBox(page).press("Enter");
  const card = page.getByTestId("live-run").getByTestId("tool-card");
  await expect(card).toHaveAttribute("data-state", "running", { timeout: FIRST_RUN - 30_000 });

  await conversation(page).getByRole("button", { name: "Stop", exact: true }).click();
  const reply = replies(page);
  await expect(reply).toHaveAttribute("data-status", "cancelled", { timeout: 20_000 });
  await expect(reply).toContainText("Stopped.");
  await expect(page.getByTestId("live-run")).toHaveCount(0);
  await expect(conversation(page).getByRole("button", { name: "Stop", exact: true })).toHaveCount(0);
  await expect(conversation(page).getByRole("button", { name: "Send" })).toBeEnabled();
});

test("loop mode sends continuations until the agent says it has finished", async ({ page }) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-loop");
  await openBranch(page, branch.path);
  await page.getByTestId("loop-toggle").check();
  await promptBox(page).fill("Go on. FINISHED-AFTER 2");
  await promptBox(page).press("Enter");

  const messages = page.getByTestId("messages");
  await expect(messages.getByText("Loop mode · continuation 1")).toBeVisible({
    timeout: FIRST_RUN - 60_000,
  });
  await expect(messages.getByText("Loop mode · continuation 2")).toBeVisible({ timeout: 30_000 });
  const notice = messages.locator('[data-role="notice"]');
  await expect(notice).toHaveText(
    "Loop mode: the agent said it has finished, after 2 continuations.",
    { timeout: 30_000 },
  );
  await expect(replies(page)).toHaveCount(3);
  await expect(replies(page).last()).toContainText("FINISHED");
  await expect(messages.getByText("Loop mode · continuation 3")).toHaveCount(0);
  await expect(page.getByTestId("loop-toggle")).toBeChecked();
});

test("the unsent prompt is kept across a reload", async ({ page }) => {
  const branch = await newBranch(page.request, "run-draft");
  await openBranch(page, branch.path);
  await promptBox(page).pressSequentially("Half a thought about the parser");
  // The draft is saved a moment after typing stops.
  await page.waitForTimeout(1_500);
  await page.reload();
  await expect(promptBox(page)).toHaveValue("Half a thought about the parser");
});

test("what is typed before the conversation has loaded is kept", async ({ page }) => {
  const branch = await newBranch(page.request, "run-early-typing");
  // The conversation's code loads after the page; hold it back while the user types.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/pkg/split_conversation_panel_*", async (route) => {
    await held;
    await route.continue();
  });
  await openWorkspace(page, branch.path);
  await promptBox(page).fill("Typed while the page was loading");
  release();
  await page.locator('[data-testid="conversation"][data-hydrated]').waitFor();
  await expect(promptBox(page)).toHaveValue("Typed while the page was loading");
  await promptBox(page).press("Enter");
  await expect(page.locator('article[data-role="user"]')).toContainText(
    "Typed while the page was loading",
  );
});

test("earlier messages load on scrolling up and stay when a run ends", async ({ page }) => {
  test.setTimeout(FIRST_RUN);
  // 16 runs make 33 messages, more than the 30 a page opens with.
  const settings = await page.request.post("/api/set_loop_max", { form: { iterations: "20" } });
  expect(settings.ok()).toBeTruthy();
  const branch = await newBranch(page.request, "run-long");
  await call(page.request, "set_loop", { branch_id: branch.id, enabled: true });
  await call(page.request, "send_prompt", {
    branch_id: branch.id,
    prompt: "The first prompt. FINISHED-AFTER 15",
    agent: "claude-code",
    model: "sonnet",
  });
  await openBranch(page, branch.path);
  const messages = page.getByTestId("messages");
  await expect(messages.locator('[data-role="notice"]')).toContainText("after 15 continuations", {
    timeout: 90_000,
  });
  await call(page.request, "set_loop", { branch_id: branch.id, enabled: false });

  await page.reload();
  await page.locator('[data-testid="conversation"][data-hydrated]').waitFor();
  await expect(messages.getByText("The first prompt.")).toHaveCount(0);
  await expect(messages.getByText("Scroll up for earlier messages")).toBeAttached();
  // The page opens on the newest messages.
  const fromBottom = () =>
    messages.evaluate((list) => list.scrollHeight - list.scrollTop - list.clientHeight);
  await expect.poll(fromBottom, { message: "the list is scrolled to its end" }).toBeLessThan(2);
  await messages.evaluate((list) => list.scrollTo(0, 0));
  await expect(messages.getByText("The first prompt.")).toBeVisible();

  await promptBox(page).fill("Say: one more");
  await promptBox(page).press("Enter");
  await expect(replies(page).last()).toContainText("one more", { timeout: 20_000 });
  await expect(messages.getByText("The first prompt.")).toBeAttached();
  await expect(messages.locator("article")).toHaveCount(34);
  await page.request.post("/api/set_loop_max", { form: { iterations: "10" } });
});

test("a prompt sent during a run waits in the queue, can be removed, and runs next", async ({
  page,
}) => {
  test.setTimeout(FIRST_RUN);
  const branch = await newBranch(page.request, "run-queue");
  await openBranch(page, branch.path);
  await promptBox(page).fill("Run: sleep 8 && echo first-done");
  await promptBox(page).press("Enter");
  await expect(page.getByTestId("live-run").getByTestId("tool-card")).toHaveAttribute(
    "data-state",
    "running",
    { timeout: FIRST_RUN - 30_000 },
  );

  await expect(conversation(page).getByRole("button", { name: "Queue" })).toBeVisible();
  const queued = page.getByTestId("queued-run");
  for (const [count, prompt] of ["Say: second in line", "Say: never mind"].entries()) {
    await promptBox(page).fill(prompt);
    await promptBox(page).press("Enter");
    await expect(queued).toHaveCount(count + 1);
  }
  await expect(queued.first()).toHaveText(/Queued · Say: second in line/);
  // A waiting prompt is not part of the conversation yet.
  await expect(page.getByTestId("messages").getByText("Say: second in line")).toHaveCount(0);

  await queued.filter({ hasText: "never mind" }).getByRole("button", { name: "Remove" }).click();
  await expect(queued).toHaveCount(1);
  await page.reload();
  await expect(page.getByTestId("queued-run")).toHaveCount(1);
  await expect(page.getByText("never mind")).toHaveCount(0);

  // The queued prompt runs when the first run ends, and each reply follows its prompt.
  await expect(replies(page)).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId("queue")).toHaveCount(0);
  const order = page.getByTestId("messages").locator("article");
  await expect(order).toHaveCount(4);
  await expect(order.nth(0)).toContainText("Run: sleep 8 && echo first-done");
  await expect(order.nth(1)).toHaveAttribute("data-status", "completed");
  await expect(order.nth(2)).toContainText("Say: second in line");
  await expect(order.nth(3)).toContainText("second in line");
  await expect(order.nth(3)).toHaveAttribute("data-status", "completed");
});
