import { client, type Views } from './client.js';
import { showSignedIn } from './signed-in.js';
import { showSignedOut } from './signed-out.js';
import './styles.css';

// The app's entry: the two views, wired to each other here, and the first one shown.
const views: Views = {
  signedIn: () => showSignedIn(views),
  signedOut: (notice) => showSignedOut(views, notice),
};

// A live sign-in survives a reload through auth's cookie.
client
  .resume()
  .then((resumed) => (resumed ? views.signedIn() : views.signedOut()))
  .catch(() => views.signedOut());
