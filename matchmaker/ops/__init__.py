"""队列管理: the platform admin's view of the background jobs (RQ queues, workers, the periodic
scheduler) with retry and delete of failed jobs."""
