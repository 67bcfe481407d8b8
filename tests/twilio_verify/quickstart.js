// The Twilio Verify quick-start flow, run by Twilio's Node SDK against the gateway.
//
// Environment as for quickstart.py. Prints one JSON object of what it saw; exits
// non-zero on the first surprise.
"use strict";
const twilio = require("twilio");
const assert = require("assert");

const base = process.env.OTPGW_BASE;
const client = twilio(process.env.TW_ACCOUNT_SID, process.env.TW_AUTH_TOKEN);
// The one line that moves a Twilio Verify client to the gateway.
client.verify.baseUrl = base;
const service = client.verify.v2.services(process.env.TW_SERVICE_SID);
const to = process.env.TW_TO;
const to2 = process.env.TW_TO_2;
const seen = {};

async function codeFor(number) {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(base + "/dev/outbox");
    const m = (await r.json()).find((m) => m.to === number);
    if (m) return m.body.match(/\d{4,10}/)[0];
    await new Promise((ok) => setTimeout(ok, 20));
  }
  throw new Error("no message for " + number + " in the outbox");
}

async function errorOf(call) {
  try {
    await call();
  } catch (e) {
    assert(e instanceof twilio.RestException, "expected a RestException, got " + e);
    return { status: e.status, code: e.code };
  }
  throw new Error("expected a RestException");
}

(async () => {
  const v = await service.verifications.create({ to, channel: "sms" });
  assert(v.sid.startsWith("VE") && v.status === "pending");
  assert.strictEqual(v.sendCodeAttempts.length, 1);
  seen.created = { sid: v.sid, status: v.status };
  const code = await codeFor(to);
  const wrong = [...code].map((c) => String((Number(c) + 1) % 10)).join("");

  const fetched = await service.verifications(v.sid).fetch();
  assert.strictEqual(fetched.sid, v.sid);

  let c = await service.verificationChecks.create({ to, code: wrong });
  assert(c.status === "pending" && c.valid === false);
  seen.wrong = { status: c.status, valid: c.valid };
  c = await service.verificationChecks.create({ verificationSid: v.sid, code });
  assert(c.status === "approved" && c.valid === true);
  seen.right = { status: c.status, valid: c.valid, sid: c.sid };
  seen.after_approval = await errorOf(() => service.verifications(v.sid).fetch());

  const v2 = await service.verifications.create({ to: to2, channel: "sms" });
  const canceled = await service.verifications(v2.sid).update({ status: "canceled" });
  assert.strictEqual(canceled.status, "canceled");
  seen.canceled = { sid: canceled.sid, status: canceled.status };

  seen.bad_to = await errorOf(() => service.verifications.create({ to: "14155550123", channel: "sms" }));
  seen.bad_channel = await errorOf(() => service.verifications.create({ to: to2, channel: "sna" }));
  seen.unknown_sid = await errorOf(() =>
    service.verificationChecks.create({ verificationSid: "VE" + "0".repeat(32), code: "123456" }),
  );
  seen.other_service = await errorOf(() =>
    client.verify.v2.services("VA" + "f".repeat(32)).verifications.create({ to: to2, channel: "sms" }),
  );
  const bad = twilio(process.env.TW_ACCOUNT_SID, "not-the-token");
  bad.verify.baseUrl = base;
  seen.bad_token = await errorOf(() =>
    bad.verify.v2.services(process.env.TW_SERVICE_SID).verifications.create({ to: to2, channel: "sms" }),
  );
  console.log(JSON.stringify(seen));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
