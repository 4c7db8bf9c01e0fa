import { account, client, main, type Views } from './client.js';
import { form, h } from './ui.js';

// The signed-out view: sign in, or create an account and sign in with it.

/** The sign-in and sign-up forms side by side, with `notice` above them. */
export function showSignedOut(views: Views, notice?: string): void {
  account.replaceChildren();
  const signIn = form(
    'sign-in',
    'Sign in',
    [
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    'Sign in',
    async ({ email, password }) => {
      await client.signIn(email!, password!);
      await views.signedIn();
    },
  );
  const signUp = form(
    'sign-up',
    'Create an account',
    [
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
      {
        name: 'password',
        label: 'Password (10+ characters, letters and digits or symbols)',
        type: 'password',
        autocomplete: 'new-password',
      },
    ],
    'Create account',
    async ({ email, password }) => {
      await client.auth.register.mutate({ email: email!, password: password! });
      await client.signIn(email!, password!);
      await views.signedIn();
    },
  );
  main.replaceChildren(
    ...(notice ? [h('p', { class: 'notice', role: 'status' }, notice)] : []),
    h(
      'div',
      { class: 'columns' },
      h('section', { 'aria-labelledby': 'sign-in-h' }, h('h2', { id: 'sign-in-h' }, 'Sign in'), signIn),
      h('section', { 'aria-labelledby': 'sign-up-h' }, h('h2', { id: 'sign-up-h' }, 'Create an account'), signUp),
    ),
  );
  (signIn.querySelector('input') as HTMLInputElement).focus();
}
