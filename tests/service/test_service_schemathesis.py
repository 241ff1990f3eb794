"""schemathesis against the app's own OpenAPI schema, sent to the real server: every operation,
bounded examples; no 5xx, and every response matches the schema (status, content type, body)."""
import schemathesis
from hypothesis import HealthCheck, settings
from service_harness import TEST_SETTINGS

from scanner.service.app import create_app

OPENAPI = create_app(TEST_SETTINGS).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_server_serves_this_schema(service):
    import httpx
    assert httpx.get(service.url + "/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
def test_api_conforms_to_its_schema(case, service):
    case.call_and_validate(base_url=service.url, headers={"X-API-Key": service.keys["admin"]})
