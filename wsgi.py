"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from dotenv import load_dotenv

load_dotenv()

from matchmaker import create_app  # noqa: E402  (the environment must be loaded first)

app = create_app()

if app.config["RUN_PERIODIC_IN_PROCESS"] and not app.config["REDIS_URL"]:
    # `make run`: no Redis, no worker — sweeps, the outbox drain and digests run here.
    from workers.scheduler import InProcessScheduler

    InProcessScheduler(app).start()
