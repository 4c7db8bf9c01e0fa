// Signs in through the gateway and lists the account's notes:
//   npm start -w examples/list-notes -- you@example.com 'your password'
// SWITCHYARD_URL is the gateway (default: `npm run dev`'s, http://127.0.0.1:8080). With --register,
// the account is created first.
import { createSwitchyardClient } from '@switchyard/client';

const args = process.argv.slice(2);
const register = args.includes('--register');
const [email, password] = args.filter((a) => a !== '--register');
if (!email || !password) {
  console.error('usage: npm start -w examples/list-notes -- [--register] <email> <password>');
  process.exit(2);
}

const client = createSwitchyardClient({ baseUrl: process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:8080' });
if (register) await client.auth.register.mutate({ email, password });
await client.signIn(email, password);

// Both queries go to notes in the same tick: one HTTP request.
const [page, first] = await Promise.all([client.notes.list.query({ limit: 20 }), client.notes.list.query({ limit: 1 })]);
console.log(`${page.items.length} note(s) for ${email}${first.items[0] ? `, newest: "${first.items[0].title}"` : ''}`);
for (const note of page.items) console.log(`- ${note.title} (version ${note.version}, ${note.updatedAt.toISOString()})`);
await client.signOut();
