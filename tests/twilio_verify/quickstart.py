"""The Twilio Verify quick-start flow, run by Twilio's Python SDK against the gateway.

Environment: OTPGW_BASE (the gateway's base URL), TW_ACCOUNT_SID, TW_AUTH_TOKEN,
TW_SERVICE_SID, TW_TO (a fresh number), TW_TO_2 (another). Prints one JSON object of what
it saw; exits non-zero on the first surprise.
"""

import json
import os
import re
import time
import urllib.request

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

base = os.environ["OTPGW_BASE"]
client = Client(os.environ["TW_ACCOUNT_SID"], os.environ["TW_AUTH_TOKEN"])
# The one line that moves a Twilio Verify client to the gateway.
client.verify.base_url = base
service = client.verify.v2.services(os.environ["TW_SERVICE_SID"])
to, to2 = os.environ["TW_TO"], os.environ["TW_TO_2"]
seen = {}


def code_for(number):
    req = urllib.request.Request(base + "/dev/outbox")
    with urllib.request.urlopen(req) as r:
        for m in json.load(r):
            if m["to"] == number:
                return re.search(r"\d{4,10}", m["body"]).group(0)
    raise SystemExit(f"no message for {number} in the outbox")


def error_of(call):
    try:
        call()
    except TwilioRestException as e:
        return {"status": e.status, "code": e.code}
    raise SystemExit("expected a TwilioRestException")


v = service.verifications.create(to=to, channel="sms")
assert v.sid.startswith("VE") and v.status == "pending", v
assert v.to == to and v.channel == "sms" and len(v.send_code_attempts) == 1
seen["created"] = {"sid": v.sid, "status": v.status}

for _ in range(200):
    try:
        code = code_for(to)
        break
    except SystemExit:
        time.sleep(0.02)
wrong = "".join(str((int(c) + 1) % 10) for c in code)

fetched = service.verifications(v.sid).fetch()
assert fetched.sid == v.sid and fetched.status == "pending"

c = service.verification_checks.create(to=to, code=wrong)
assert c.status == "pending" and c.valid is False, c
seen["wrong"] = {"status": c.status, "valid": c.valid}

c = service.verification_checks.create(to=to, code=code)
assert c.status == "approved" and c.valid is True, c
seen["right"] = {"status": c.status, "valid": c.valid, "sid": c.sid}

# Twilio soft-deletes an approved verification: fetching it is a 20404.
seen["after_approval"] = error_of(lambda: service.verifications(v.sid).fetch())

v2 = service.verifications.create(to=to2, channel="sms")
canceled = service.verifications(v2.sid).update(status="canceled")
assert canceled.status == "canceled", canceled
seen["canceled"] = {"sid": canceled.sid, "status": canceled.status}

seen["bad_to"] = error_of(lambda: service.verifications.create(to="14155550123", channel="sms"))
seen["bad_channel"] = error_of(lambda: service.verifications.create(to=to2, channel="sna"))
seen["unknown_sid"] = error_of(
    lambda: service.verification_checks.create(verification_sid="VE" + "0" * 32, code="123456")
)
seen["other_service"] = error_of(
    lambda: client.verify.v2.services("VA" + "f" * 32).verifications.create(to=to2, channel="sms")
)
bad = Client(os.environ["TW_ACCOUNT_SID"], "not-the-token")
bad.verify.base_url = base
seen["bad_token"] = error_of(
    lambda: bad.verify.v2.services(os.environ["TW_SERVICE_SID"]).verifications.create(
        to=to2, channel="sms"
    )
)
print(json.dumps(seen))
