"""Creating exactly once: the idempotency claim, alone and under concurrent requests."""

import threading

from gitint.creating import claim, idempotency_key, release
from gitint.extensions import db
from gitint.models import Idempotency


def test_key_depends_on_every_part():
    """Does the key change with tenant, user, integration, repository, action and name?"""
    parts = (1, "user-1", 2, 3, "branch", "DEV-1-x")
    keys = {idempotency_key(*parts)}
    for i, other in enumerate((9, "user-2", 9, 9, "pull_request", "DEV-1-y")):
        keys.add(idempotency_key(*parts[:i], other, *parts[i + 1 :]))
    assert len(keys) == 7 and all(len(k) == 64 for k in keys)


def test_second_claim_gets_the_first_row(app, make_tenant):
    """Does a second claim of the same key get the existing row instead of its own?"""
    tenant = make_tenant()
    first, mine = claim(tenant.id, "k")
    assert mine and first.state == "pending"
    again, mine_again = claim(tenant.id, "k")
    assert not mine_again and again.id == first.id
    other_tenant = make_tenant()
    assert claim(other_tenant.id, "k")[1]  # keys are per tenant


def test_release_lets_a_retry_claim(app, make_tenant):
    """After a failed attempt releases its row, can a retry claim the key?"""
    tenant = make_tenant()
    row, _ = claim(tenant.id, "k")
    release(row)
    assert db.session.query(Idempotency).count() == 0
    assert claim(tenant.id, "k")[1]


def test_concurrent_claims_let_one_through(app, make_tenant):
    """When several requests claim the same key at once, does exactly one win?"""
    tenant_id = make_tenant().id
    start = threading.Barrier(4)
    won = []

    def request():
        with app.app_context():
            start.wait()
            won.append(claim(tenant_id, "same")[1])
            db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False, False, False, True]
