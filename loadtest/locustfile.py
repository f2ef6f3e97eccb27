"""Entry for locust: the simulated session user, the enforced latency budget, final CSVs, and
the tally of swipes, versions and failures (`_tally.json`, read by `loadtest.soak`).

python -m loadtest.run                 # the whole run: Redis, the service, locust, report
locust -f loadtest/locustfile.py       # headless defaults from pyproject [tool.locust]
"""

from locust import events

from loadtest.budget import check_budget
from loadtest.final_csv import write_final_stats
from loadtest.tally import record_failure, write_tally
from loadtest.users import SessionUser

events.quitting.add_listener(write_final_stats)
events.quitting.add_listener(check_budget)
events.quitting.add_listener(write_tally)
events.request.add_listener(record_failure)

__all__ = ["SessionUser"]
