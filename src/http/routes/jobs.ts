import { Router } from 'express';
import type { PeriodicJob } from '../../jobs/periodic';
import { HttpError } from '../http-error';

/** POST /admin/jobs/:name runs a background job now and returns its report. */
export function createJobsRouter(jobs: Array<PeriodicJob<unknown>>): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.json({ jobs: jobs.map((job) => job.name) });
  });
  router.post('/:name', async (req, res) => {
    const job = jobs.find((j) => j.name === req.params.name);
    if (!job) throw new HttpError(404, `no job named "${req.params.name}"; jobs: ${jobs.map((j) => j.name).join(', ')}`);
    const report = await job.runNow();
    res.json({ job: job.name, ran: report !== undefined, report: report ?? null });
  });
  return router;
}
