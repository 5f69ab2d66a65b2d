import { call } from "../../lib/beefirst";
import { SignIn } from "./form";

export const dynamic = "force-dynamic";

// Rendered on the server with the providers beefirst offers (GET /idp), then the form takes over.
export default async function SignInPage() {
  const idp = await call<{ providers: { name: string }[] }>("/idp");
  return <SignIn providers={idp.ok ? idp.data.providers.map((p) => p.name) : []} />;
}
