import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, activeAccount, api, codeFor, grantAdmin, mailsTo, totp } from "./beefirst";

/** Signs `email` in through the app's sign-in page. */
async function signIn(page: Page, email: string) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator("#email")).toHaveText(email);
}

/** Waits until the access token is near its end (30-second tokens; the proxy refreshes in the
 *  last quarter). */
const nearExpiry = () => new Promise((resolve) => setTimeout(resolve, 24_000));

test("sign up, activate with the mailed code, sign in, see the protected page, sign out", async ({ page, context }) => {
  const email = "ann@example.com";
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.locator("#message")).toContainText("We mailed a code");
  await page.getByLabel("Code").fill(await codeFor(email));
  await page.getByRole("button", { name: "Activate" }).click();
  await expect(page.locator("#activated")).toBeVisible();

  await signIn(page, email);
  const cookies = await context.cookies();
  for (const name of ["bf_access", "bf_refresh"]) {
    const cookie = cookies.find((c) => c.name === name);
    expect(cookie, name).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax" });
  }
  expect(await page.evaluate(() => document.cookie)).toBe("");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/signin\?next=%2Faccount$/);
});

test("signing in with an emailed code", async ({ page }) => {
  const email = "bob@example.com";
  await activeAccount(email);
  const before = mailsTo(email);
  await page.goto("/signin?next=/account");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Email me a code instead" }).click();
  await expect(page.locator("#message")).toContainText("sign-in code is on its way");
  await page.getByLabel("Code").fill(await codeFor(email, before));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator("#email")).toHaveText(email);
});

test("the token is refreshed while the user is on a page", async ({ page, context }) => {
  const email = "cy@example.com";
  await activeAccount(email);
  await signIn(page, email);
  const first = (await context.cookies()).find((c) => c.name === "bf_refresh")!.value;
  await nearExpiry();
  await page.getByRole("link", { name: "Account", exact: true }).click();
  await expect(page.locator("#email")).toHaveText(email);
  const second = (await context.cookies()).find((c) => c.name === "bf_refresh")!.value;
  expect(second).not.toBe(first);
  // The spent refresh token is refused by beefirst now: the rotation really happened.
  expect((await api("/token/refresh", { method: "POST", body: { refresh_token: first } })).status).toBe(401);
});

test("a session revoked elsewhere sends the user to sign in", async ({ page }) => {
  const email = "dee@example.com";
  await activeAccount(email);
  await signIn(page, email);
  // Elsewhere: the same person signs in on another device and signs every other session out.
  const other = await api("/login", { method: "POST", body: { email, password: PASSWORD } });
  const revoked = await api("/me/sessions", { method: "DELETE", headers: { authorization: `Bearer ${other.json.access_token}` } });
  expect(revoked.status).toBe(204);
  await page.reload();
  await expect(page).toHaveURL(/\/signin\?revoked=1$/);
  await expect(page.locator("#message")).toHaveText("Your session ended. Sign in again.");
});

test("two tabs refreshing at once keep the user signed in", async ({ page, context }) => {
  const email = "eve@example.com";
  await activeAccount(email);
  await signIn(page, email);
  const second = await context.newPage();
  await nearExpiry();
  const stale = (await context.cookies()).find((c) => c.name === "bf_refresh")!.value;
  // Two requests leave together with the same expiring cookie (two tabs, or a page and its
  // prefetches): each would spend the refresh token without the guard.
  const [one, two] = await Promise.all([context.request.get("/account"), context.request.get("/account")]);
  expect([one.status(), two.status()]).toEqual([200, 200]);
  expect(await one.text()).toContain(email);
  expect(await two.text()).toContain(email);
  // A request sent with the old cookie just after the rotation gets the same new pair.
  const late = await fetch(new URL("/account", page.url()), { headers: { cookie: `bf_refresh=${stale}` }, redirect: "manual" });
  expect(late.status).toBe(200);
  // The session survived: both tabs still show the account.
  await page.goto("/account");
  await second.goto("/account");
  await expect(page.locator("#email")).toHaveText(email);
  await expect(second.locator("#email")).toHaveText(email);
});

test("sign-in goes back only to this app's own pages, and sign-out only from them", async ({ page, context }) => {
  const email = "jo@example.com";
  await activeAccount(email);
  for (const next of ["//elsewhere.example/", "/\\elsewhere.example/", "https://elsewhere.example/"]) {
    await page.goto(`/signin?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(/\/account$/);
  }
  // Another site's form cannot sign the user out, nor a link with ?revoked=1.
  const forged = await context.request.post("/signout", { headers: { "sec-fetch-site": "cross-site" }, maxRedirects: 0 });
  expect(forged.status()).toBe(403);
  await page.goto("/signout?revoked=1");
  await expect(page.locator("#email")).toHaveText(email);
  await expect(page.locator("#beefirst-account")).toHaveAttribute("href", `${process.env.BEEFIRST_PUBLIC_TEST_URL}/`);
});

test("the admin page checks the role claim", async ({ page }) => {
  const email = "fay@example.com";
  await activeAccount(email);
  await signIn(page, email);
  await page.goto("/admin");
  await expect(page.locator("#forbidden")).toHaveText("Your account is not an administrator.");

  // Made an administrator: the role claim comes with the next token (here: a new sign-in).
  grantAdmin(email);
  await signIn(page, email);
  await page.goto("/admin");
  await expect(page.locator("#users")).toContainText(`${email} (admin, active)`);
});

test("a passkey added on the account page signs in without a password", async ({ page }) => {
  // A virtual authenticator in this page, through the DevTools protocol: it makes and uses
  // passkeys like a phone or a security key would, with the user verified.
  const devtools = await page.context().newCDPSession(page);
  await devtools.send("WebAuthn.enable");
  await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const email = "gus@example.com";
  await activeAccount(email);
  await signIn(page, email);
  await page.getByLabel("Password for a new passkey").fill(PASSWORD);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator("#passkey-message")).toContainText("is ready");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("#email")).toHaveText(email);
});

test("signing in with another provider (OpenID Connect) through beefirst", async ({ page }) => {
  await page.goto("/signin");
  await page.getByRole("link", { name: "Continue with corp" }).click();
  // The provider's own (development) login and consent pages.
  await page.locator('input[name="login"]').fill("hal~hal@example.com~true");
  await page.locator('input[name="password"]').fill("anything");
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click();
  // Back through beefirst to this app, the login code exchanged on its server.
  await expect(page.locator("#email")).toHaveText("hal@example.com");
});

test("with two-factor authentication on, sign-in asks for the authenticator's code", async ({ page }) => {
  const email = "ida@example.com";
  await activeAccount(email);
  const session = await api("/login", { method: "POST", body: { email, password: PASSWORD } });
  const bearer = { authorization: `Bearer ${session.json.access_token}` };
  const started = await api("/me/totp", { method: "POST", body: { password: PASSWORD }, headers: bearer });
  const step = Math.floor(Date.now() / 30_000);
  const confirmed = await api("/me/totp/confirm", { method: "POST", body: { code: totp(started.json.secret, step) }, headers: bearer });
  expect(confirmed.status).toBe(200);

  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator("#message")).toHaveText("Enter the code from your authenticator app.");
  // A code is accepted once: the next step's, which beefirst takes within its clock skew.
  await page.getByLabel("Code").fill(totp(started.json.secret, step + 1));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator("#email")).toHaveText(email);
});
