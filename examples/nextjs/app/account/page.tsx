import { redirect } from "next/navigation";
import { BEEFIRST_PUBLIC_URL, call, type Profile } from "../../lib/beefirst";
import { requireUser } from "../../lib/session";
import { AddPasskey } from "./add-passkey";

// A protected page rendered on the server: the proxy has refreshed the access token if it was
// about to expire; here it is verified, then used to read the profile from beefirst.
export const dynamic = "force-dynamic";

export default async function Account() {
  const { token, claims } = await requireUser("/account");
  const me = await call<Profile>("/me", { bearer: token });
  // A valid token whose session was revoked elsewhere (signed out on another device, password
  // changed, account disabled): beefirst answers 401.
  if (!me.ok && me.status === 401) redirect("/signout?revoked=1");
  if (!me.ok) throw new Error(me.message);
  const expires = new Date((claims.exp ?? 0) * 1000).toISOString();
  return (
    <main>
      <h1>Your account</h1>
      <dl>
        <dt>Email</dt>
        <dd id="email">{me.data.email}</dd>
        <dt>Name</dt>
        <dd>{me.data.display_name ?? "(none)"}</dd>
        <dt>Role</dt>
        <dd id="role">{me.data.role}</dd>
        <dt>Access token valid until</dt>
        <dd id="expires">{expires}</dd>
      </dl>
      <AddPasskey />
      <form method="post" action="/signout">
        <button type="submit">Sign out</button>
      </form>
      <p>
        Your passkeys, two-factor authentication and deleting your account are on{" "}
        <a id="beefirst-account" href={`${BEEFIRST_PUBLIC_URL}/`}>your beefirst account page</a>.
      </p>
    </main>
  );
}
