from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from core.env import settings_or_exit
from people.db_roles import refuse_unsafe_database_role

# gunicorn's arbiter halts on a worker that exits with 3 (WORKER_BOOT_ERROR) at boot; any other
# code and it boots a new worker, which refuses again, forever.
GUNICORN_HALT = 3

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
settings_or_exit(exit_code=GUNICORN_HALT)
application = get_wsgi_application()
refuse_unsafe_database_role(exit_code=GUNICORN_HALT)
