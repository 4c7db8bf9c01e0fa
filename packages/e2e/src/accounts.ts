import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AuthRouter } from '@switchyard/api-contracts';

/** Registers an account through the gateway and signs it in: its access token. */
export async function signUp(gatewayUrl: string, email: string, password: string): Promise<string> {
  const auth = createTRPCClient<AuthRouter>({
    links: [httpLink({ url: `${gatewayUrl}/api/auth/trpc`, transformer: superjson })],
  });
  await auth.register.mutate({ email, password });
  return (await auth.login.mutate({ email, password })).accessToken;
}
