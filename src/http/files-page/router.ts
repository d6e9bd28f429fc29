import { Router, type RequestHandler } from 'express';
import { inlinePage } from '../inline-page';

/** The page as one self-contained document (CSS and JS inlined): works offline, one request. */
function loadFilesPage(): string {
  return inlinePage(__dirname, 'files-page.html', ['files-page.css', '../page-elements.js', '../../util/format-bytes.cjs', 'files-page.js']);
}

/**
 * GET /files-page: the files page for browsers (list, search, upload by drag-and-drop,
 * download, delete), all through the file API. Guarded like the API (API_TOKENS): a browser
 * is asked for the token as a Basic password, and sends it on to /files from then on.
 */
export function createFilesPageRouter(auth: RequestHandler = (_req, _res, next) => next()): Router {
  const page = loadFilesPage();
  const router = Router();
  router.get('/', auth, (_req, res) => {
    res.type('html').set('Cache-Control', 'no-cache').send(page);
  });
  return router;
}
