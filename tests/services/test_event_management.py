"""Event management under mocks: the authorizer, the cache, the stream, the staff topic, the
reminder schedule, capacity per stage, the private site behind CloudFront, and config errors."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest
from pydantic import TypeAdapter

from components import config
from components.services.event_management import (
    ROUTES,
    STAFF_ROUTES,
    EventManagement,
    EventManagementSettings,
    web_files,
)
from tests.services.idempotency_support import check_idempotency_store
from tests.support import (
    ACCOUNT,
    PLACEHOLDER_KEY,
    PROD,
    REGION,
    json_input,
    run_service,
    statements,
)
from tools.mock_runtime import Resource, StackRun, load_stack_file, reveal, run_stack

FUNCTION = "aws:lambda/function:Function"
METHOD = "aws:apigateway/method:Method"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CERTIFICATE = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
BASE: dict[str, Any] = {
    "event": {"id": "summit", "name": "Summit"},
    "sessions": [{"id": "keynote", "title": "Keynote", "startsAt": "2026-06-01T09:00:00Z",
                  "endsAt": "2026-06-01T10:00:00Z", "room": "Hall", "capacity": 300}],
    "staffTeams": {"catering": {"types": ["food"], "emails": ["cook@example.com",
                                                             "chef@example.com"]},
                   "materials": {"types": ["handout", "help"],
                                 "emails": ["print@example.com"]}},
    "reminders": {"fromAddress": "events@example.com", "windowMinutes": 45},
    "sessionListCacheSeconds": 90,
    "web": {"domain": {"name": "events.example.com", "certificateArn": CERTIFICATE}},
}
PROVISIONED = {"mode": "provisioned", "read": 5, "write": 2, "maxRead": 50, "maxWrite": 20}


def settings(**overrides: Any) -> EventManagementSettings:
    return TypeAdapter(EventManagementSettings).validate_python({**BASE, **overrides})


def build(service_settings: EventManagementSettings, **options: Any) -> StackRun:
    return run_service(lambda context, opts: EventManagement("events", service_settings, context,
                                                             opts), **options)


@cache
def built() -> StackRun:
    return build(settings())


def role_statements(run: StackRun, policy: str) -> list[dict[str, Any]]:
    return statements(run.one(ROLE_POLICY, policy))


def resource_path(run: StackRun, method: Resource) -> str:
    """The method's resource path, rebuilt from the resources' parents."""
    resources = {r.id: r for r in run.of_type("aws:apigateway/resource:Resource")}
    parts: list[str] = []
    resource_id = method.inputs["resourceId"]
    while resource_id in resources:
        parts.insert(0, resources[resource_id].inputs["pathPart"])
        resource_id = resources[resource_id].inputs["parentId"]
    return "/".join(parts)


def test_every_method_but_the_preflights_needs_a_guest_token() -> None:
    run = built()
    authorizer = run.one("aws:apigateway/authorizer:Authorizer")
    pool = run.one("aws:cognito/userPool:UserPool")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["providerArns"] == [pool.state["arn"]]
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    methods = run.of_type(METHOD)
    guarded = {(m.inputs["httpMethod"], resource_path(run, m)) for m in methods
               if m.inputs["httpMethod"] != "OPTIONS"}
    assert guarded == {(route.method, route.path) for route in ROUTES}
    for method in methods:
        if method.inputs["httpMethod"] == "OPTIONS":
            assert method.inputs["authorization"] == "NONE"
        else:
            assert method.inputs["authorization"] == "COGNITO_USER_POOLS"
            assert method.inputs["authorizerId"] == authorizer.id
    preflighted = {resource_path(run, m) for m in methods if m.inputs["httpMethod"] == "OPTIONS"}
    assert preflighted == {route.path for route in ROUTES}


def test_both_json_bodies_are_validated_against_their_models() -> None:
    run = built()
    validator = run.one("aws:apigateway/requestValidator:RequestValidator")
    models = {m.inputs["name"]: json.loads(m.inputs["schema"])
              for m in run.of_type("aws:apigateway/model:Model")}
    assert models["GuestRequest"]["properties"]["type"]["enum"] == ["handout", "food", "help"]
    assert models["GuestRequest"]["properties"]["note"]["maxLength"] == 500
    assert models["CheckIn"]["required"] == ["code"]
    bodies = {resource_path(run, m): m.inputs.get("requestModels")
              for m in run.of_type(METHOD) if m.inputs["httpMethod"] == "POST"}
    assert bodies == {"check-ins": {"application/json": "CheckIn"},
                      "requests": {"application/json": "GuestRequest"},
                      "sessions/{sessionId}/registrations": None}
    for method in run.of_type(METHOD):
        if method.inputs["httpMethod"] != "OPTIONS":
            assert method.inputs["requestValidatorId"] == validator.id


def test_staff_routes_are_left_to_the_handler_which_knows_the_staff_group() -> None:
    """A Cognito authorizer checks the token, not its groups: the handler answers 403 to a
    caller whose ``cognito:groups`` lacks STAFF_GROUP on the staff routes."""
    run = built()
    assert {("POST", "check-ins"), ("GET", "requests")} == STAFF_ROUTES
    group = run.one("aws:cognito/userGroup:UserGroup").inputs
    assert group["name"] == "staff"
    assert group["userPoolId"] == run.one("aws:cognito/userPool:UserPool").id
    variables = run.one(FUNCTION, "events-api-function").inputs["environment"]["variables"]
    assert variables["STAFF_GROUP"] == "staff"
    assert variables["REQUEST_TYPES"] == "handout,food,help"
    assert variables["EVENT_ID"] == "summit"
    assert variables["ALLOWED_ORIGINS"] == "https://events.example.com"


def test_the_guest_pool_lets_guests_sign_up_with_strong_passwords() -> None:
    run = built()
    pool = run.one("aws:cognito/userPool:UserPool").inputs
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": False}
    assert pool["autoVerifiedAttributes"] == ["email"]
    assert pool["passwordPolicy"]["minimumLength"] == 12
    assert all(pool["passwordPolicy"][key] for key in (
        "requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"))
    assert pool["userPoolTier"] == "ESSENTIALS"
    assert "userPoolAddOns" not in pool
    client = run.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["explicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["generateSecret"] is False


def test_prod_enforces_threat_protection_on_the_plus_tier() -> None:
    pool = build(settings(), defaults=PROD).one("aws:cognito/userPool:UserPool").inputs
    assert pool["userPoolTier"] == "PLUS"
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert pool["deletionProtection"] == "ACTIVE"


def test_only_the_session_list_is_served_from_the_encrypted_cache() -> None:
    run = built()
    stage = run.one("aws:apigateway/stage:Stage").inputs
    assert (stage["cacheClusterEnabled"], stage["cacheClusterSize"]) == (True, "0.5")
    everything = run.one(METHOD_SETTINGS, "events-method-settings").inputs
    assert everything["methodPath"] == "*/*"
    assert everything["settings"]["cachingEnabled"] is True
    assert everything["settings"]["cacheDataEncrypted"] is True
    assert everything["settings"]["cacheTtlInSeconds"] == 90
    overrides = {s.inputs["methodPath"]: s.inputs["settings"]
                 for s in run.of_type(METHOD_SETTINGS) if s.name != "events-method-settings"}
    assert set(overrides) == {f"{r.path}/{r.method}" for r in ROUTES if r.path != "sessions"
                              or r.method != "GET"}
    for override in overrides.values():
        assert override["cachingEnabled"] is False
        assert (override["throttlingRateLimit"], override["throttlingBurstLimit"]) == (50, 100)
        assert override["loggingLevel"] == "INFO"


def test_no_cache_cluster_when_the_session_list_cache_is_off() -> None:
    run = build(settings(sessionListCacheSeconds=0))
    assert run.one("aws:apigateway/stage:Stage").inputs["cacheClusterEnabled"] is False
    assert [s.name for s in run.of_type(METHOD_SETTINGS)] == ["events-method-settings"]


def test_new_requests_stream_to_the_notifier_with_bisection_and_a_dlq() -> None:
    run = built()
    requests = run.one("aws:dynamodb/table:Table", "events-requests-table")
    events = run.one("aws:dynamodb/table:Table", "events-events-table")
    assert (requests.inputs["streamEnabled"], requests.inputs["streamViewType"]) == (
        True, "NEW_IMAGE")
    assert events.inputs["streamEnabled"] is False
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    failures = run.one("aws:sqs/queue:Queue", "events-notifier-failures-queue").state["arn"]
    assert mapping["eventSourceArn"] == requests.state["streamArn"]
    assert mapping["functionName"] == run.one(FUNCTION, "events-notifier-function").state["arn"]
    assert mapping["startingPosition"] == "LATEST"
    assert mapping["batchSize"] == 10
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["maximumRetryAttempts"] == 3
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["destinationConfig"] == {"onFailure": {"destinationArn": failures}}
    assert json.loads(mapping["filterCriteria"]["filters"][0]["pattern"]) == {
        "eventName": ["INSERT"]}
    policy = role_statements(run, "events-notifier-policy")
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": failures} in policy
    assert {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                          "dynamodb:GetShardIterator"],
            "Resource": requests.state["streamArn"]} in policy
    topic = run.one("aws:sns/topic:Topic").state["arn"]
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic} in policy
    variables = run.one(FUNCTION, "events-notifier-function").inputs["environment"]["variables"]
    assert variables["TOPIC_ARN"] == topic


def test_each_staff_address_hears_only_its_teams_request_types() -> None:
    run = built()
    topic = run.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    undelivered = run.one("aws:sqs/queue:Queue", "events-staff-undelivered-queue").state["arn"]
    filters = {}
    for subscription in run.of_type(SUBSCRIPTION):
        inputs = subscription.inputs
        assert (inputs["topic"], inputs["protocol"]) == (topic.state["arn"], "email")
        assert inputs["filterPolicyScope"] == "MessageAttributes"
        assert json_input(subscription, "redrivePolicy") == {"deadLetterTargetArn": undelivered}
        filters[inputs["endpoint"]] = json_input(subscription, "filterPolicy")
    assert filters == {"cook@example.com": {"requestType": ["food"]},
                       "chef@example.com": {"requestType": ["food"]},
                       "print@example.com": {"requestType": ["handout", "help"]}}
    queue_policy = statements(run.one("aws:sqs/queuePolicy:QueuePolicy",
                                      "events-staff-undelivered-queue-policy"))
    assert {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": ["sqs:SendMessage"], "Resource": undelivered,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic.state["arn"]}}} in queue_policy


def test_the_schedule_invokes_the_reminders_with_its_own_role_and_a_dlq() -> None:
    run = built()
    schedule = run.one("aws:scheduler/schedule:Schedule").inputs
    reminders = run.one(FUNCTION, "events-reminders-function")
    role = run.one("aws:iam/role:Role", "events-scheduler-role")
    dlq = run.one("aws:sqs/queue:Queue", "events-schedule-failures-queue").state["arn"]
    assert schedule["scheduleExpression"] == "rate(15 minutes)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert (target["arn"], target["roleArn"]) == (reminders.state["arn"], role.state["arn"])
    assert target["deadLetterConfig"] == {"arn": dlq}
    assert target["retryPolicy"] == {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 600}
    trust = json_input(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert role_statements(run, "events-scheduler-policy") == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": reminders.state["arn"]},
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": dlq}]
    variables = reminders.inputs["environment"]["variables"]
    assert (variables["WINDOW_MINUTES"], variables["FROM_ADDRESS"]) == ("45", "events@example.com")
    assert "SMS_ORIGINATION_IDENTITY" not in variables


def test_reminders_send_from_the_configured_address_only() -> None:
    sms = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:phone-number/phone-0123"
    run = build(settings(reminders={"fromAddress": "events@example.com",
                                    "smsOriginationIdentity": sms}))
    configuration_set = run.one("aws:sesv2/configurationSet:ConfigurationSet")
    policy = role_statements(run, "events-reminders-policy")
    assert {"Effect": "Allow", "Action": ["ses:SendEmail"],
            "Resource": sorted([f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com",
                                configuration_set.state["arn"]]),
            "Condition": {"StringEquals": {"ses:FromAddress": "events@example.com"}}} in policy
    assert {"Effect": "Allow", "Action": ["sms-voice:SendTextMessage"], "Resource": sms} in policy
    variables = run.one(FUNCTION, "events-reminders-function").inputs["environment"]["variables"]
    assert variables["SMS_ORIGINATION_IDENTITY"] == sms
    assert variables["SES_CONFIGURATION_SET"] == configuration_set.inputs["configurationSetName"]


def test_the_api_handler_may_make_and_check_macs_with_the_hmac_key_only() -> None:
    run = built()
    key = run.one("aws:kms/key:Key")
    assert (key.inputs["customerMasterKeySpec"], key.inputs["keyUsage"]) == (
        "HMAC_256", "GENERATE_VERIFY_MAC")
    policy = role_statements(run, "events-api-policy")
    assert {"Effect": "Allow", "Action": ["kms:GenerateMac", "kms:VerifyMac"],
            "Resource": key.state["arn"]} in policy
    events = run.one("aws:dynamodb/table:Table", "events-events-table").state["arn"]
    assert {"Effect": "Allow", "Action": ["dynamodb:BatchGetItem", "dynamodb:GetItem",
                                          "dynamodb:PutItem", "dynamodb:Query",
                                          "dynamodb:UpdateItem"], "Resource": events} in policy
    assert {"Effect": "Allow", "Action": ["dynamodb:Query"],
            "Resource": f"{events}/index/byGuest"} in policy
    requests = run.one("aws:dynamodb/table:Table", "events-requests-table").state["arn"]
    assert {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"],
            "Resource": requests} in policy
    # Nothing else: no scans, no deletes, no other key (the idempotency table's delete and
    # the environment's key are checked in test_registrations_and_requests_are_idempotent).
    assert len(policy) == 7  # the log group's statement, these four, the idempotency store's
    function = run.one(FUNCTION, "events-api-function").inputs
    layer = run.one("aws:lambda/layerVersion:LayerVersion").state["arn"]
    assert function["layers"][1:] == [layer]
    assert function["environment"]["variables"]["QR_KEY_ID"] == key.state["keyId"]
    assert {"app.py", "event_tickets/__init__.py"} <= set(function["code"].assets)


def test_sessions_are_seeded_without_their_registration_counter() -> None:
    item = json.loads(built().one("aws:dynamodb/tableItem:TableItem").inputs["item"])
    assert item["pk"] == {"S": "EVENT#summit"}
    assert item["sk"] == {"S": "SESSION#keynote"}
    assert item["gsi1sk"] == {"S": "2026-06-01T09:00:00Z#keynote"}
    assert item["capacity"] == {"N": "300"}
    # An update of a seeded item rewrites what it names: the counter must not be among them.
    assert "registered" not in item


def test_dev_tables_are_on_demand() -> None:
    run = built()
    for table in run.of_type("aws:dynamodb/table:Table"):
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert not run.of_type("aws:appautoscaling/target:Target")


def test_registrations_and_requests_are_idempotent() -> None:
    run = built()
    check_idempotency_store(run, "events", "api", PLACEHOLDER_KEY)
    assert run.outputs["exports"]["idempotencyTableName"] == run.one(
        "aws:dynamodb/table:Table", "events-idempotency-records-table").state["name"]
    # Browsers may send the key: every preflight names the header.
    preflights = [r.inputs["responseParameters"]
                  ["method.response.header.Access-Control-Allow-Headers"]
                  for r in run.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
                  if "method.response.header.Access-Control-Allow-Headers"
                  in r.inputs.get("responseParameters", {})]
    assert preflights
    assert set(preflights) == {"'authorization,content-type,idempotency-key'"}
    # Provisioned capacity is for the event's tables; the records' table stays on demand.
    provisioned = build(settings(capacity=PROVISIONED, idempotencyExpirySeconds=7200),
                        defaults=PROD)
    records = check_idempotency_store(provisioned, "events", "api", PLACEHOLDER_KEY,
                                      expiry=7200)
    assert "readCapacity" not in records
    assert provisioned.one("aws:dynamodb/table:Table",
                           "events-idempotency-records-table").inputs[
        "deletionProtectionEnabled"] is True


def test_provisioned_tables_scale_the_table_and_every_index() -> None:
    run = build(settings(capacity=PROVISIONED), defaults=PROD)
    events = run.one("aws:dynamodb/table:Table", "events-events-table").inputs
    assert (events["billingMode"], events["readCapacity"], events["writeCapacity"]) == (
        "PROVISIONED", 5, 2)
    assert {(i["readCapacity"], i["writeCapacity"]) for i in events["globalSecondaryIndexes"]} \
        == {(5, 2)}
    targets = {(t.inputs["resourceId"], t.inputs["scalableDimension"]):
               (t.inputs["minCapacity"], t.inputs["maxCapacity"])
               for t in run.of_type("aws:appautoscaling/target:Target")}
    name = run.one("aws:dynamodb/table:Table", "events-events-table").state["name"]
    assert targets[(f"table/{name}", "dynamodb:table:ReadCapacityUnits")] == (5, 50)
    assert targets[(f"table/{name}/index/byGuest", "dynamodb:index:WriteCapacityUnits")] == (2, 20)
    assert len(targets) == 8  # events (table and 2 indexes) and requests, reads and writes
    for policy in run.of_type("aws:appautoscaling/policy:Policy"):
        assert policy.inputs["policyType"] == "TargetTrackingScaling"
        assert policy.inputs["targetTrackingScalingPolicyConfiguration"]["targetValue"] == 70


def test_the_site_bucket_is_private_and_read_only_by_the_distribution() -> None:
    run = built()
    bucket = run.one("aws:s3/bucket:Bucket", "events-site-bucket").state["arn"]
    distribution = run.one("aws:cloudfront/distribution:Distribution")
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[key] for key in ("blockPublicAcls", "blockPublicPolicy",
                                      "ignorePublicAcls", "restrictPublicBuckets"))
    policy = statements(run.one("aws:s3/bucketPolicy:BucketPolicy"))
    readers = [s for s in policy if s["Effect"] == "Allow"]
    assert readers == [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": ["s3:GetObject"], "Resource": f"{bucket}/*",
                        "Condition": {"ArnEquals": {
                            "aws:SourceArn": distribution.state["arn"]}}}]
    access = run.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert (access.inputs["signingBehavior"], access.inputs["originAccessControlOriginType"]) == (
        "always", "s3")
    [origin] = distribution.inputs["origins"]
    assert origin["originAccessControlId"] == access.id
    assert "s3OriginConfig" not in origin


def test_the_distribution_serves_index_html_over_tls_1_2_with_security_headers() -> None:
    run = built()
    distribution = run.one("aws:cloudfront/distribution:Distribution").inputs
    assert distribution["defaultRootObject"] == "index.html"
    assert distribution["aliases"] == ["events.example.com"]
    assert distribution["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    behavior = distribution["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    headers = run.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    assert behavior["responseHeadersPolicyId"] == headers.id
    security = headers.inputs["securityHeadersConfig"]
    assert security["frameOptions"]["frameOption"] == "DENY"
    assert "connect-src 'self' https://" in security["contentSecurityPolicy"][
        "contentSecurityPolicy"]
    assert run.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs[
        "logType"] == "ACCESS_LOGS"


def test_every_site_file_is_uploaded_with_its_type_and_a_generated_config() -> None:
    run = built()
    objects = {o.inputs["key"]: o.inputs for o in run.of_type(
        "aws:s3/bucketObjectv2:BucketObjectv2")}
    assert set(objects) == set(web_files()) | {"config.js"}
    assert objects["index.html"]["contentType"] == "text/html; charset=utf-8"
    assert objects["app.js"]["contentType"] == "text/javascript; charset=utf-8"
    assert objects["index.html"]["cacheControl"] == "no-cache"
    text = reveal(objects["config.js"]["content"])
    prefix = "window.BLUEPRINTS_CONFIG = "
    assert text.startswith(prefix)
    written = json.loads(text.removeprefix(prefix).rstrip().rstrip(";"))
    stage = run.one("aws:apigateway/stage:Stage").state
    assert written == {
        "apiUrl": stage["invokeUrl"], "region": REGION,
        "userPoolId": run.one("aws:cognito/userPool:UserPool").id,
        "userPoolClientId": run.one("aws:cognito/userPoolClient:UserPoolClient").id,
        "cognitoEndpoint": f"https://cognito-idp.{REGION}.amazonaws.com/",
        "eventName": "Summit", "requestTypes": ["handout", "food", "help"],
        "passwordPolicy": {"minimumLength": 12, "requireLowercase": True,
                           "requireUppercase": True, "requireNumbers": True,
                           "requireSymbols": True}}
    pool = run.one("aws:cognito/userPool:UserPool").inputs["passwordPolicy"]
    assert {key: pool[key] for key in ("minimumLength", "requireSymbols")} == {
        "minimumLength": 12, "requireSymbols": True}


# --- configuration errors ----------------------------------------------------------------

def problems_with(**changes: Any) -> list[str]:
    services = copy.deepcopy(load_stack_file("dev")["config"]["blueprints:services"])
    services["eventManagement"] = {**services["eventManagement"], **changes}
    with pytest.raises(config.ConfigError) as raised:
        run_stack("dev", config_overrides={"blueprints:services": services})
    return raised.value.problems


KEY = "blueprints:services.eventManagement"


def test_an_unknown_capacity_mode_names_the_allowed_ones() -> None:
    [problem] = problems_with(capacity={"mode": "burst"})
    assert problem.startswith(f"{KEY}.capacity.mode: 'burst' is not allowed")
    assert "onDemand, provisioned" in problem


def test_provisioned_capacity_names_each_missing_setting() -> None:
    problems = problems_with(capacity={"mode": "provisioned", "read": 5, "maxRead": 2})
    assert f"{KEY}.capacity.write: is required with mode provisioned" in problems
    assert f"{KEY}.capacity.maxWrite: is required with mode provisioned" in problems
    assert f"{KEY}.capacity.maxRead: 2 is below read 5" in problems


def test_a_team_type_must_be_a_request_type() -> None:
    [problem] = problems_with(staffTeams={"kitchen": {"types": ["drinks"],
                                                      "emails": ["a@example.com"]}})
    assert problem == (f"{KEY}.staffTeams.kitchen.types: 'drinks' is not allowed; use one of "
                       "handout, food, help (requestTypes)")


def test_threat_protection_names_its_levels() -> None:
    [problem] = problems_with(threatProtection="strict")
    assert problem.startswith(f"{KEY}.threatProtection: 'strict' is not allowed")
    assert "off, audit, enforced" in problem


def test_the_api_must_know_the_web_apps_origin() -> None:
    [problem] = problems_with(web={})
    assert problem.startswith(f"{KEY}.corsOrigins: name the web app's origin")


def test_the_amplify_site_folder_stays_inside_the_repository() -> None:
    [problem] = problems_with(
        web={"amplifyRepository": "https://github.com/example/site",
             "amplifySiteFolder": "site/../../etc"},
        corsOrigins=["https://main.example.amplifyapp.com"])
    assert problem.startswith(f"{KEY}.web.amplifySiteFolder: must stay inside the repository")


def test_session_times_are_utc() -> None:
    sessions = [{"id": "late", "title": "Late", "startsAt": "2026-06-01T09:00:00+02:00",
                 "endsAt": "2026-06-01T10:00:00Z", "room": "B", "capacity": 5}]
    [problem] = problems_with(sessions=sessions)
    assert problem.startswith(f"{KEY}.sessions[0].startsAt: '2026-06-01T09:00:00+02:00' is not "
                              "an ISO 8601 UTC time")


@cache
def amplified() -> StackRun:
    """The dev stack with Amplify Hosting and Facebook sign-in (secrets as secure config)."""
    services = copy.deepcopy(load_stack_file("dev")["config"]["blueprints:services"])
    services["eventManagement"] |= {
        "web": {"amplifyRepository": "https://github.com/example/event-site"},
        "corsOrigins": ["https://main.d1a2b3c4d5e6f7.amplifyapp.com"],
        "socialProviders": {"Facebook": {"clientId": "facebook-app"}},
        "authDomainPrefix": "summit-dev"}
    return run_stack("dev", config_overrides={
        "blueprints:services": services,
        "eventManagement:amplifyAccessToken": {"secure": "v1:amplify-token"},
        "eventManagement:facebookClientSecret": {"secure": "v1:facebook-secret"}})


def test_amplify_hosting_builds_the_site_with_its_config_and_security_headers() -> None:
    run = amplified()
    assert [r for r in run.resources if r.name.startswith("eventManagement-site")
            and r.type.startswith(("aws:cloudfront/", "aws:s3/"))] == []
    app = run.one("aws:amplify/app:App")
    # The site's folder, as in this repository (amplifySiteFolder).
    assert "printf '%s' \"$BLUEPRINTS_CONFIG_JS\" > web/event_management/config.js" in \
        app.inputs["buildSpec"]
    assert "    baseDirectory: web/event_management\n" in app.inputs["buildSpec"]
    config_js = reveal(app.inputs["environmentVariables"])["BLUEPRINTS_CONFIG_JS"]
    assert '"userPoolClientId"' in config_js
    assert '"apiUrl": "https://' in config_js
    headers = app.inputs["customHeaders"]
    assert "max-age=63072000; includeSubDomains; preload" in headers
    policy = next(line for line in headers.splitlines() if "default-src" in line)
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert f"https://cognito-idp.{REGION}.amazonaws.com" in policy
    assert (app.inputs["platform"], app.inputs["enableBranchAutoDeletion"]) == ("WEB", False)
    branch = run.one("aws:amplify/branch:Branch")
    assert (branch.inputs["stage"], branch.inputs["enableAutoBuild"]) == ("PRODUCTION", True)


def test_a_social_provider_signs_in_through_the_hosted_ui_with_the_code_flow() -> None:
    run = amplified()
    provider = run.one("aws:cognito/identityProvider:IdentityProvider")
    assert provider.inputs["providerName"] == "Facebook"
    assert repr(provider.inputs["providerDetails"]) == "[secret]"  # the client secret in it
    assert reveal(provider.inputs["providerDetails"])["client_id"] == "facebook-app"
    assert provider.inputs["attributeMapping"]["email"] == "email"
    domain = run.one("aws:cognito/userPoolDomain:UserPoolDomain")
    assert (domain.inputs["domain"], domain.inputs["managedLoginVersion"]) == ("summit-dev", 1)
    client = run.one("aws:cognito/userPoolClient:UserPoolClient", "eventManagement-web-client")
    assert client.inputs["supportedIdentityProviders"] == ["COGNITO", "Facebook"]
    assert client.inputs["allowedOauthFlows"] == ["code"]
    assert client.inputs["callbackUrls"] == ["https://main.d1a2b3c4d5e6f7.amplifyapp.com/"]
