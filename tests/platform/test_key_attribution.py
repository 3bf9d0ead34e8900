"""What a node delivers is attributed to the key that delivered it (``api_key_id`` on each
alert and counter batch): a key found leaked, copied or misused shows what it sent.
Before this, alerts and counts named no key, and the audit log only the key's name,
which two vans may share."""

from __future__ import annotations

import json

from console_helpers import active_with_photo, post_alert
from platform_helpers import Scenario, ok


def test_each_alert_and_batch_of_counts_names_the_key_that_delivered_it(
        scenario: Scenario) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    one, two = (s.staff.node(s.deployment_id, name="van") for _ in range(2))  # named alike
    first = post_alert(s, one, entry_id, "alert-0001")
    post_alert(s, two, entry_id, "alert-0002")
    again = post_alert(s, two, entry_id, "alert-0002")  # a retry is counted once
    counters = f"/api/node/deployments/{s.deployment_id}/counters"
    ok(two.post(counters, json={"batch_id": "batch-0001", "faces_seen": 40, "tracks": 9}), 201)
    admin = s.staff["admin"]
    keys = [k for k in ok(admin.get("/api/api-keys")) if k["name"] == "van"]
    key_one, key_two = sorted(keys, key=lambda k: k["id"])
    assert first["api_key_id"] == key_one["id"] and again["api_key_id"] == key_two["id"]
    assert (key_one["alerts_delivered"], key_one["counter_batches_delivered"]) == (1, 0)
    assert (key_two["alerts_delivered"], key_two["counter_batches_delivered"]) == (1, 1)
    assert key_two["last_delivery_at"] is not None
    alerts = ok(s.staff["operator"].get(f"/api/deployments/{s.deployment_id}/alerts"))
    assert sorted(a["api_key_id"] for a in alerts) == [key_one["id"], key_two["id"]]
    events = ok(admin.get("/api/audit/events?limit=1000"))
    received = [json.loads(e["details"]) for e in events
                if e["action"] in ("alert.received", "counters.received")]
    assert [d["api_key_id"] for d in received] == [key_one["id"], key_two["id"], key_two["id"]]
    # The same alert sent again through the other key changes nothing, and is recorded,
    # saying whether it carried what was recorded. The answer never says what people
    # decided of the alert: any key of the deployment may ask, a copied one too.
    ok(s.staff["operator"].post(f"/api/alerts/{first['id']}/adjudication",
                                json={"adjudication": "true_match"}))
    receipt = post_alert(s, two, entry_id, "alert-0001")
    assert receipt["api_key_id"] == key_one["id"]
    assert not {"adjudication", "adjudicated_by", "outcome", "demographic_group"} & set(receipt)
    assert post_alert(s, two, entry_id, "alert-0001", score=0.93)["score"] == 0.71
    # Round 12: one that fails a check the recorded one passed (below the threshold) too.
    assert post_alert(s, two, entry_id, "alert-0001", score=0.01)["score"] == 0.71
    resent = [e for e in ok(admin.get("/api/audit/events?limit=1000"))
              if e["action"] == "delivery.resent_by_another_key"]
    assert [(e["subject_type"], e["subject_id"]) for e in resent] == [
        ("alerts", str(first["id"]))] * 3
    assert [json.loads(e["details"]) for e in resent] == [
        {"deployment_id": s.deployment_id, "api_key_id": key_two["id"],
         "delivered_by_key": key_one["id"], "same_content": same}
        for same in (True, False, False)]
    # Revoking a key records what it had delivered; the keys page shows it.
    ok(admin.post(f"/api/api-keys/{key_two['id']}/revoke"))
    [revoked] = [json.loads(e["details"]) for e in ok(admin.get("/api/audit/events?limit=1000"))
                 if e["action"] == "api_key.revoked"]
    assert revoked == {"alerts_delivered": 1, "counter_batches_delivered": 1}
    page = admin.get("/staff/admin/api-keys").text
    row = page.split(f'data-key-id="{key_two["id"]}"')[1].split("</tr>")[0]
    assert "1 alert, 1 batch of counts; last" in row
    row = page.split(f'data-key-id="{key_one["id"]}"')[1].split("</tr>")[0]
    assert "1 alert, 0 batches of counts; last" in row
