"""Entry for locust: the simulated session user, the enforced latency budget, and final CSVs.

python -m loadtest.run                 # the whole run: Redis, the service, locust, report
locust -f loadtest/locustfile.py       # headless defaults from pyproject [tool.locust]
"""

from locust import events

from loadtest.budget import check_budget
from loadtest.final_csv import write_final_stats
from loadtest.users import SessionUser

events.quitting.add_listener(write_final_stats)
events.quitting.add_listener(check_budget)

__all__ = ["SessionUser"]
