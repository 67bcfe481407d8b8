"""Hooks for the schema run of tests/schema.rs.

Two things about a start (or delivery) request that openapi.yaml documents but no schema can express,
because they depend on data outside the request:

- `to` must be a possible, valid number for its country (libphonenumber), not only
  E.164-shaped; else `400 invalid_phone_number`;
- `template` must name one of the tenant's templates (its configuration); else
  `400 invalid_request`; `workflow` likewise one of its workflows;
- an email `to` must be an address this gateway sends to (a dot-atom local part of
  ASCII, a domain name; the document says which addresses are refused); else
  `400 invalid_email`.

`before_call` maps them, in requests the document calls valid, onto values the test
tenant accepts: `to` onto a valid +1 415 number made from the generated digits (or an
address at example.com made from the generated one), `template` onto one of the
tenant's templates and `workflow` onto its workflow, and a lookup's `tenant` onto the
test tenant (another answers `404`). Valid starts and checks then reach the code
past those checks, and any other refusal of them is a disagreement.

`filter_failure` keeps the exceptions explicit: these refusals of a valid request do not
count against `positive_data_acceptance`, and every other refusal still fails the run:

- `400 invalid_phone_number` and `400 invalid_email`, should a valid request still
  carry a number that libphonenumber refuses, or a destination of the other kind than
  its `channel` sends to (the document says so in words: a number for `email`, an
  address for the phone channels);
- `400 invalid_request` for a `code_length` written with a fraction or an exponent
  (`8.0`): JSON Schema counts that as an integer, the gateway takes only integer
  literals, and openapi.yaml says so in words;
- `400 invalid_request` for a `metadata` object larger than 1 KiB serialized, which
  openapi.yaml states in words (JSON Schema bounds no serialized size).
"""

import re

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

E164 = re.compile(r"^\+[0-9]{7,15}$")
WITH_BODY = {"startVerification", "checkVerification", "createDelivery", "supportLookup"}
# The test tenant's templates and workflows (tests/schema.rs, config/default.toml).
TEMPLATES = ("default", "short")
WORKFLOWS = ("fallback",)


def valid_address(generated: str) -> str:
    """An address at example.com, the same for the same generated address."""
    return f"user{sum(map(ord, generated)) % 100_000}@example.com"


def valid_number(generated: str) -> str:
    """A valid +1 415 number, the same for the same generated digits."""
    r = int(generated[1:])
    exchange = 230 + r % 700
    if exchange % 100 == 11:
        exchange += 1
    return f"+1415{exchange}{(r // 700) % 10_000:04}"


def _operation_id(case):
    return case.operation.definition.raw.get("operationId")


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not _is_positive(case) or _operation_id(case) not in WITH_BODY:
        return
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("to"), str) and E164.match(body["to"]):
        body["to"] = valid_number(body["to"])
    elif isinstance(body.get("to"), str) and "@" in body["to"]:
        body["to"] = valid_address(body["to"])
    if _operation_id(case) == "supportLookup" and isinstance(body.get("tenant"), str):
        body["tenant"] = "demo"
    if isinstance(body.get("workflow"), str):
        body["workflow"] = WORKFLOWS[0]
    if isinstance(body.get("template"), str):
        body["template"] = TEMPLATES[sum(map(ord, body["template"])) % len(TEMPLATES)]


def _excepted(problem, body) -> bool:
    """Whether a `400` to a valid request is one of the documented exceptions."""
    code, detail = problem.get("code"), problem.get("detail", "")
    if code in ("invalid_phone_number", "invalid_email"):
        return True
    if code != "invalid_request":
        return False
    if isinstance(body.get("code_length"), float) and "floating point" in detail:
        return True
    return "metadata" in body and "`metadata` is larger than" in detail


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    try:
        problem = response.json()
    except Exception:
        return True
    body = case.body if isinstance(case.body, dict) else {}
    return not (isinstance(problem, dict) and _excepted(problem, body))
