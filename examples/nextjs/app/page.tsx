import { cookies } from "next/headers";
import { ACCESS, verifyAccess } from "../lib/session";

// Rendered on the server for every request: it reads the (HttpOnly) access token.
export const dynamic = "force-dynamic";

export default async function Home() {
  const claims = await verifyAccess((await cookies()).get(ACCESS)?.value);
  return (
    <main>
      <h1>Acme</h1>
      {claims ? (
        <p id="greeting">
          You are signed in (account {claims.sub}). <a href="/account">Your account</a>
        </p>
      ) : (
        <p id="greeting">
          You are not signed in. <a href="/signup">Sign up</a> or <a href="/signin">sign in</a>.
        </p>
      )}
    </main>
  );
}
