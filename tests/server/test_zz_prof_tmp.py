import time
from tests.server.test_feed import *
def test_prof(history, db):
    play_phase_one(history)
    api = history.desks["alice"].api
    t=time.perf_counter(); n=0
    pages = pull_pages(api, 0, limit=2)
    dt=time.perf_counter()-t
    print("pages", len(pages), "per", dt/len(pages))
    t=time.perf_counter()
    for _ in range(20): api.get("/sync/pull", params={"cursor": 0, "limit": 2})
    print("pull raw", (time.perf_counter()-t)/20)
    t=time.perf_counter()
    for _ in range(20): api.http.get("/healthz")
    print("healthz", (time.perf_counter()-t)/20)
