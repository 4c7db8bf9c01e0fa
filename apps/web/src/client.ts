import { createSwitchyardClient } from '@switchyard/client';

// Same origin as the gateway: the refresh token stays in auth's HttpOnly cookie; the access token
// lives in memory only. One batching link per service: a page's queries to one service travel in
// one HTTP request.
export const client = createSwitchyardClient({ baseUrl: '', session: 'cookie' });

/** The page's two regions: the content and the account bar. */
export const main = document.getElementById('main')!;
export const account = document.getElementById('account')!;

/** Moves between the two views; main.ts wires them, so neither view imports the other. */
export interface Views {
  signedIn(): Promise<void>;
  signedOut(notice?: string): void;
}
