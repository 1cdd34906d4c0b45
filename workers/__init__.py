"""Background jobs: queue names, job functions, dispatch after commit, the worker entry."""
