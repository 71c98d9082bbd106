"""template.yaml (SAM) checked offline: its events are exactly infra/routes.json, it builds each
function with cargo-lambda, and once SAM's own translator has turned it into CloudFormation it
grants what the CDK stack grants, routes CloudFront the same way and mirrors the CDK stack's
sizes and alarms (infra/cdk/cdk.out must hold a fresh `cdk synth`; scripts/test.d/10-iac.sh
runs that first).

Run with the SAM venv's Python: .tools/sam/bin/python -m unittest discover -s infra/tests
"""

import copy
import fnmatch
import json
import os
import re
import unittest
from collections import Counter
from pathlib import Path

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

REPO = Path(__file__).resolve().parents[2]
ROUTES = json.loads((REPO / "infra" / "routes.json").read_text())
SPA_CODE = (REPO / "infra" / "cdk" / "lib" / "cloudfront" / "spa-rewrite.js").read_text()
CDK_TEMPLATE = REPO / "infra" / "cdk" / "cdk.out" / "RaGenie.template.json"
FUNCTIONS = ["ragenie-auth", "ragenie-users", "ragenie-documents", "ragenie-conversations", "ragenie-chat", "ragenie-ingest"]
# The function of SQS events (no HTTP routes): the documents function queues its jobs.
INGEST = "ragenie-ingest"
STREAMING = "ragenie-chat"

# What the HTTP API serves: every route but the streaming function's (its URL serves those).
API_ROUTES = sorted(f"{r['function']} {r['method']} {r['path']}" for r in ROUTES if r["function"] != STREAMING)

SAM = yaml_parse((REPO / "template.yaml").read_text())
HEADERS = json.loads((REPO / "infra" / "security-headers.json").read_text())


def translate(sam):
    """CloudFormation as `sam deploy` would create it (code locations are placeholders)."""
    sam = copy.deepcopy(sam)
    sam["Globals"]["Function"]["CodeUri"] = "s3://placeholder/code.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(sam, {}, NoManagedPolicies())


CFN = translate(SAM)["Resources"]


def functions_by_binary(resources):
    """binary name -> (logical id, resource), for SAM (Metadata) and CDK (Description) alike."""
    out = {}
    for lid, r in resources.items():
        if r["Type"] not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if binary is None:
            match = re.fullmatch(r"RaGenie (ragenie-[a-z]+)", r["Properties"].get("Description", ""))
            if not match:
                continue  # CDK's own helper functions (bucket deployment)
            binary = match.group(1)
        out[binary] = (lid, r)
    return out


def as_list(x):
    return x if isinstance(x, list) else [x]


def canonical_names(resources):
    """Logical id -> a name that means the same thing in both templates."""
    names = {}
    for lid, r in resources.items():
        t = r["Type"]
        if t == "AWS::DynamoDB::Table":
            names[lid] = "table"
        elif t == "AWS::SecretsManager::Secret":
            description = r["Properties"]["Description"].lower()
            names[lid] = ("provider-keys-secret" if "provider" in description
                          else "origin-secret" if "cloudfront" in description else "jwt-secret")
        elif t == "AWS::SQS::Queue":
            names[lid] = "ingest-queue" if "RedrivePolicy" in r["Properties"] else "ingest-dead-letter-queue"
    for binary, (_, r) in functions_by_binary(resources).items():
        names[r["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]] = f"{binary}-logs"
    return names


def describe(expr, names):
    """An IAM resource expression as text, references replaced by canonical names."""
    if isinstance(expr, str):
        text = expr
    elif isinstance(expr, list):
        text = "".join(describe(e, names) for e in expr)
    elif "Ref" in expr:
        text = names.get(expr["Ref"], "{%s}" % expr["Ref"])
    elif "Fn::GetAtt" in expr:
        text = names.get(expr["Fn::GetAtt"][0], "{%s}" % expr["Fn::GetAtt"][0])
    elif "Fn::Join" in expr:
        text = expr["Fn::Join"][0].join(describe(e, names) for e in expr["Fn::Join"][1])
    elif "Fn::Sub" in expr:
        body = expr["Fn::Sub"]
        text = re.sub(r"\$\{([A-Za-z0-9]+)(\.Arn)?\}", lambda m: names.get(m.group(1), m.group(0)), body)
    else:
        raise AssertionError(f"unexpected IAM resource expression {expr}")
    # The documents bucket is named, not referenced (see the templates); its ARN looks alike.
    text = re.sub(r"^arn:.*:s3:::.*-documents-.*?(/\*)?$", lambda m: "documents-bucket" + (m.group(1) or ""), text)
    return text


def grants(resources, binary):
    """Every 'action on resource' the function's role is given, plus facts about the role."""
    names = canonical_names(resources)
    lid, fn = functions_by_binary(resources)[binary]
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for r in resources.values():
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in r["Properties"].get("Roles", []):
            documents.append(r["Properties"]["PolicyDocument"])
    out = set()
    for doc in documents:
        for s in doc["Statement"]:
            # A conditional statement: with the default (empty) parameters its condition is
            # false, so the second branch stands (AWS::NoValue: no statement).
            if isinstance(s, dict) and "Fn::If" in s:
                s = s["Fn::If"][2]
                if s == {"Ref": "AWS::NoValue"}:
                    continue
            assert s["Effect"] == "Allow" and "Condition" not in s, s
            for a in as_list(s["Action"]):
                for res in as_list(s["Resource"]):
                    out.add(f"{a} on {describe(res, names)}")
    return role, out


def expected_grants(binary):
    table = ["ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"]
    want = {f"logs:{a} on {binary}-logs" for a in ("CreateLogStream", "PutLogEvents")}
    want |= {f"dynamodb:{a} on {r}" for a in table for r in ("table", "table/index/gsi1")}
    want.add("secretsmanager:GetSecretValue on jwt-secret")
    if binary in ("ragenie-documents", "ragenie-chat", INGEST):
        want.add("secretsmanager:GetSecretValue on provider-keys-secret")
        want |= {"s3:GetObject on documents-bucket/*", "s3:ListBucket on documents-bucket"}
    if binary in ("ragenie-documents", INGEST):
        want.add("s3:PutObject on documents-bucket/*")
    if binary == "ragenie-documents":
        want |= {"s3:DeleteObject on documents-bucket/*", "sqs:SendMessage on ingest-queue"}
    if binary == INGEST:
        # What the SQS event source mapping needs of the queue; nothing of the dead-letter queue.
        want |= {f"sqs:{a} on ingest-queue" for a in (
            "ReceiveMessage", "ChangeMessageVisibility", "GetQueueUrl", "DeleteMessage", "GetQueueAttributes")}
    if binary == "ragenie-chat":
        # The Function URL's function reads the value only CloudFront sends.
        want.add("secretsmanager:GetSecretValue on origin-secret")
    if binary == "ragenie-auth":
        # Deleting an account removes its files: list and delete, never read.
        want |= {"s3:DeleteObject on documents-bucket/*", "s3:ListBucket on documents-bucket"}
        # The admin's backfill of the user index reads every account once: base table only.
        want.add("dynamodb:Scan on table")
    return want


def first_behaviour(config, path):
    """CloudFront picks the first behaviour whose pattern matches (`*` spans slashes)."""
    for b in config.get("CacheBehaviors", []):
        if fnmatch.fnmatchcase(path, b["PathPattern"]):
            return b
    return config["DefaultCacheBehavior"]


def sample_path(route):
    return re.sub(r"\{[^}]+\}", "01JDQ4Z8ZKX3V9S5R2T7W6Y0AB", route["path"])


class SamTemplate(unittest.TestCase):
    def test_events_are_exactly_the_api_routes_of_routes_json(self):
        events = []
        for binary, (lid, fn) in functions_by_binary(SAM["Resources"]).items():
            for name, e in fn["Properties"].get("Events", {}).items():
                if binary == INGEST:
                    continue  # its SQS event: test_ingest_runs_on_the_queue_with_a_dead_letter_queue
                self.assertEqual(e["Type"], "HttpApi", f"{lid}.{name}")
                self.assertEqual(e["Properties"]["ApiId"], {"Ref": "HttpApi"}, f"{lid}.{name}")
                events.append(f"{binary} {e['Properties']['Method']} {e['Properties']['Path']}")
        self.assertEqual(sorted(events), API_ROUTES)

    def test_the_streaming_function_has_no_api_events(self):
        # Its runtime answers in Lambda's streaming format, which only its Function URL decodes.
        _, chat = functions_by_binary(SAM["Resources"])[STREAMING]
        self.assertNotIn("Events", chat["Properties"])
        self.assertTrue(any(r["function"] == STREAMING for r in ROUTES))

    def test_translated_api_serves_each_route_with_its_function(self):
        [api] = [r for r in CFN.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
        ids = {lid: binary for binary, (lid, _) in functions_by_binary(CFN).items()}
        served = []
        for path, methods in api["Properties"]["Body"]["paths"].items():
            for method, op in methods.items():
                integration = op["x-amazon-apigateway-integration"]
                self.assertEqual(integration["payloadFormatVersion"], "2.0")
                fn = re.search(r"\$\{(\w+)\.Arn\}", integration["uri"]["Fn::Sub"]).group(1)
                served.append(f"{ids[fn]} {method.upper()} {path}")
        self.assertEqual(sorted(served), API_ROUTES)

    def test_every_function_is_built_by_cargo_lambda_for_arm64(self):
        found = functions_by_binary(SAM["Resources"])
        self.assertEqual(sorted(found), sorted(FUNCTIONS))
        for binary, (lid, fn) in found.items():
            self.assertEqual(fn["Metadata"]["BuildMethod"], "rust-cargolambda", lid)
        for binary, (lid, fn) in functions_by_binary(CFN).items():
            p = fn["Properties"]
            self.assertEqual((p["Runtime"], p["Architectures"], p["Handler"]), ("provided.al2023", ["arm64"], "bootstrap"), lid)
            # Hybrid retrieval's settings go to the functions that call providers.
            embedding = ["RAGENIE_EMBEDDING_MODEL", "RAGENIE_EMBEDDING_DIMENSIONS", "RAGENIE_EMBEDDING_MODEL_DIR"] \
                if binary in ("ragenie-documents", "ragenie-chat", INGEST) else []
            # The documents function sends ingest jobs; the ingest function knows the attempts.
            embedding += {"ragenie-documents": ["RAGENIE_INGEST_QUEUE_URL"],
                          INGEST: ["RAGENIE_INGEST_MAX_ATTEMPTS"]}.get(binary, [])
            # Password-reset mail and the links' origin go to the auth function only.
            mail = ["RAGENIE_MAIL_FROM", "RAGENIE_SES_REGION", "RAGENIE_PUBLIC_URL"] \
                if binary == "ragenie-auth" else []
            origin = ["RAGENIE_ORIGIN_SECRET_ID"] if binary == STREAMING else []
            self.assertEqual(sorted(p["Environment"]["Variables"]), sorted([
                "RAGENIE_STORE", "RAGENIE_TABLE", "RAGENIE_BUCKET", "RAGENIE_JWT_SECRET_ID",
                "RAGENIE_PROVIDER_KEYS_SECRET_ID", "RAGENIE_METRICS_NAMESPACE", "RUST_LOG"] + embedding + mail + origin), lid)

    def test_ingest_runs_on_the_queue_with_a_dead_letter_queue(self):
        queue_id, ingest_id = "IngestQueue", functions_by_binary(CFN)[INGEST][0]
        [mapping] = [r["Properties"] for r in CFN.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
        self.assertEqual(mapping["FunctionName"], {"Ref": ingest_id})
        self.assertEqual(mapping["EventSourceArn"], {"Fn::GetAtt": [queue_id, "Arn"]})
        self.assertEqual((mapping["BatchSize"], mapping["FunctionResponseTypes"]), (1, ["ReportBatchItemFailures"]))
        queue = CFN[queue_id]["Properties"]
        self.assertEqual(queue["RedrivePolicy"], {"deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}, "maxReceiveCount": 3})
        fn = CFN[ingest_id]["Properties"]
        self.assertEqual(fn["Environment"]["Variables"]["RAGENIE_INGEST_MAX_ATTEMPTS"], "3")
        self.assertGreater(queue["VisibilityTimeout"], fn["Timeout"], "a message stays hidden while it is worked on")

    def test_only_chat_streams_through_a_public_function_url(self):
        urls = [r for r in CFN.values() if r["Type"] == "AWS::Lambda::Url"]
        self.assertEqual(len(urls), 1)
        chat_id = functions_by_binary(CFN)[STREAMING][0]
        self.assertEqual(urls[0]["Properties"]["TargetFunctionArn"], {"Ref": chat_id})
        self.assertEqual(urls[0]["Properties"]["InvokeMode"], "RESPONSE_STREAM")
        self.assertEqual(urls[0]["Properties"]["AuthType"], "NONE")
        permissions = [r["Properties"] for r in CFN.values() if r["Type"] == "AWS::Lambda::Permission"
                       and r["Properties"]["Principal"] == "*"]
        self.assertEqual(sorted(p["Action"] for p in permissions), ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"])
        self.assertTrue(all(p["FunctionName"] == {"Ref": chat_id} for p in permissions))
        self.assertTrue(any(p.get("InvokedViaFunctionUrl") for p in permissions))

    def test_the_function_url_answers_only_cloudfront(self):
        """CloudFront adds the generated origin secret to requests for the chat URL (and no other
        origin); the chat function is told which secret to require."""
        [(secret_id, secret)] = [(k, r) for k, r in CFN.items() if r["Type"] == "AWS::SecretsManager::Secret"
                                 and "cloudfront" in r["Properties"]["Description"].lower()]
        self.assertNotIn("SecretString", secret["Properties"])
        self.assertGreaterEqual(secret["Properties"]["GenerateSecretString"]["PasswordLength"], 32)
        chat_id, chat = functions_by_binary(CFN)[STREAMING]
        self.assertEqual(chat["Properties"]["Environment"]["Variables"]["RAGENIE_ORIGIN_SECRET_ID"], {"Ref": secret_id})
        [dist] = [r for r in CFN.values() if r["Type"] == "AWS::CloudFront::Distribution"]
        for o in dist["Properties"]["DistributionConfig"]["Origins"]:
            headers = {h["HeaderName"]: h["HeaderValue"] for h in o.get("OriginCustomHeaders", [])}
            if "ChatFunctionUrl" in json.dumps(o["DomainName"]):
                self.assertEqual(headers, {"x-ragenie-origin-verify": {
                    "Fn::Sub": "{{resolve:secretsmanager:${%s}:SecretString:::}}" % secret_id}})
            else:
                self.assertNotIn("x-ragenie-origin-verify", headers, o["Id"])

    def test_each_role_has_exactly_the_permissions_its_function_needs(self):
        for binary in FUNCTIONS:
            role, got = grants(CFN, binary)
            self.assertNotIn("ManagedPolicyArns", role, binary)
            self.assertEqual(got, expected_grants(binary), binary)
            for g in got:
                action, _, resource = g.split(" ", 2)
                self.assertNotIn("*", action, g)
                self.assertNotEqual(resource, "*", g)

    def test_table_buckets_and_secrets(self):
        by_type = lambda t: [r for r in CFN.values() if r["Type"] == t]
        [table] = by_type("AWS::DynamoDB::Table")
        t = table["Properties"]
        self.assertEqual(t["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        [gsi] = t["GlobalSecondaryIndexes"]
        self.assertEqual((gsi["IndexName"], gsi["Projection"]), ("gsi1", {"ProjectionType": "ALL"}))
        self.assertEqual(t["TimeToLiveSpecification"], {"AttributeName": "expires_at", "Enabled": True})
        self.assertTrue(t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.assertEqual(t["BillingMode"], "PAY_PER_REQUEST")
        for lid, b in ((k, r) for k, r in CFN.items() if r["Type"] == "AWS::S3::Bucket"):
            p = b["Properties"]
            self.assertTrue(all(p["PublicAccessBlockConfiguration"].values()) and len(p["PublicAccessBlockConfiguration"]) == 4, lid)
            self.assertEqual(p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
            [policy] = [r for r in CFN.values() if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": lid}]
            self.assertTrue(any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                                for s in policy["Properties"]["PolicyDocument"]["Statement"]), f"{lid}: TLS only")
        docs = CFN["DocumentsBucket"]["Properties"]
        self.assertEqual(docs["VersioningConfiguration"]["Status"], "Enabled")
        self.assertEqual(sorted(docs["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"]), ["GET", "HEAD", "PUT"])
        [jwt] = [r for r in by_type("AWS::SecretsManager::Secret") if "GenerateSecretString" in r["Properties"]
                 and "access tokens" in r["Properties"]["Description"]]
        self.assertEqual(jwt["Properties"]["GenerateSecretString"]["PasswordLength"], 64)
        [keys] = [r for r in by_type("AWS::SecretsManager::Secret") if "SecretString" in r["Properties"]]
        self.assertEqual(json.loads(keys["Properties"]["SecretString"]), {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "GEMINI_API_KEY": ""})

    def test_cloudfront_routes_chat_to_the_url_the_rest_to_the_api_and_the_app_to_s3(self):
        [dist] = [r for r in CFN.values() if r["Type"] == "AWS::CloudFront::Distribution"]
        config = dist["Properties"]["DistributionConfig"]
        origin = {o["Id"]: json.dumps(o["DomainName"]) for o in config["Origins"]}
        kind = lambda b: "stream" if "ChatFunctionUrl" in origin[b["TargetOriginId"]] else (
            "api" if "HttpApi" in origin[b["TargetOriginId"]] else "site")
        for route in ROUTES:
            b = first_behaviour(config, sample_path(route))
            want = "stream" if route["function"] == STREAMING else "api"
            self.assertEqual(kind(b), want, f"{route['method']} {route['path']} -> {b.get('PathPattern')}")
            self.assertIn(route["method"], b["AllowedMethods"])
        for path in ("/", "/index.html", "/assets/app.js", "/settings"):
            self.assertEqual(kind(first_behaviour(config, path)), "site", path)
        self.assertNotIn("CustomErrorResponses", config)
        self.assertTrue(next(o for o in config["Origins"] if o["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"])["OriginAccessControlId"])
        [fn] = [r for r in CFN.values() if r["Type"] == "AWS::CloudFront::Function"]
        self.assertEqual(fn["Properties"]["FunctionCode"], SPA_CODE, "same SPA fallback code as the CDK app")


def security_headers(resources):
    """The security headers of the one response headers policy, and whether every behaviour
    (the app's and each API path's) uses it."""
    [(pid, policy)] = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"]
    sec = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    [dist] = [r for r in resources.values() if r["Type"] == "AWS::CloudFront::Distribution"]
    config = dist["Properties"]["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    everywhere = all(b.get("ResponseHeadersPolicyId") == {"Ref": pid} for b in behaviours)
    return {
        "csp": sec["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "hsts": (sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"], sec["StrictTransportSecurity"]["IncludeSubdomains"]),
        "frame": sec["FrameOptions"]["FrameOption"],
        "nosniff": sec["ContentTypeOptions"]["Override"],
        "referrer": sec["ReferrerPolicy"]["ReferrerPolicy"],
        "on_every_behaviour": everywhere,
    }


class SecurityHeaders(unittest.TestCase):
    def test_every_answer_carries_the_shared_security_headers(self):
        self.assertEqual(security_headers(CFN), {
            "csp": HEADERS["content_security_policy"],
            "hsts": (HEADERS["hsts_max_age_seconds"], True),
            "frame": HEADERS["frame_options"],
            "nosniff": True,
            "referrer": HEADERS["referrer_policy"],
            "on_every_behaviour": True,
        })
        self.assertIn("img-src 'self' data: blob:;", HEADERS["content_security_policy"])


class SameStackAsCdk(unittest.TestCase):
    """The SAM template and the CDK app describe the same stack."""

    @classmethod
    def setUpClass(cls):
        if not CDK_TEMPLATE.exists():
            raise AssertionError(f"{CDK_TEMPLATE} is missing: run `cdk synth` in infra/cdk first")
        cls.cdk = json.loads(CDK_TEMPLATE.read_text())["Resources"]

    def test_the_ingest_queues_are_the_same(self):
        def queues(resources):
            names = canonical_names(resources)
            out = {}
            for lid, r in resources.items():
                if r["Type"] == "AWS::SQS::Queue":
                    p = r["Properties"]
                    redrive = p.get("RedrivePolicy", {}).get("maxReceiveCount")
                    out[names[lid]] = (p.get("VisibilityTimeout"), p.get("MessageRetentionPeriod"), p.get("SqsManagedSseEnabled"), redrive)
            return out
        self.assertEqual(queues(self.cdk), queues(CFN))

    def test_functions_have_the_same_size_timeout_and_grants(self):
        cdk_fns, sam_fns = functions_by_binary(self.cdk), functions_by_binary(CFN)
        self.assertEqual(sorted(cdk_fns), sorted(sam_fns))
        for binary in FUNCTIONS:
            c, s = cdk_fns[binary][1]["Properties"], sam_fns[binary][1]["Properties"]
            for key in ("MemorySize", "Timeout", "Runtime", "Architectures", "Handler"):
                self.assertEqual(c[key], s[key], f"{binary} {key}")
            self.assertEqual(grants(self.cdk, binary)[1], grants(CFN, binary)[1], binary)

    def test_cloudfront_behaviours_are_the_same_in_the_same_order(self):
        def behaviours(resources):
            [dist] = [r for r in resources.values() if r["Type"] == "AWS::CloudFront::Distribution"]
            config = dist["Properties"]["DistributionConfig"]
            url_ids = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Url"]
            out = []
            for b in config["CacheBehaviors"]:
                [o] = [o for o in config["Origins"] if o["Id"] == b["TargetOriginId"]]
                target = "stream" if any(u in json.dumps(o["DomainName"]) for u in url_ids) else "api"
                out.append((b["PathPattern"], target, b["CachePolicyId"], b["OriginRequestPolicyId"], b["ViewerProtocolPolicy"]))
            return out
        self.assertEqual(behaviours(self.cdk), behaviours(CFN))

    def test_security_headers_are_the_same(self):
        self.assertEqual(security_headers(self.cdk), security_headers(CFN))

    def test_alarms_are_the_same(self):
        def watched(p):
            # A plain metric alarm, or a metric-math one: its expression and the metrics it uses.
            if "Metrics" not in p:
                return (p["Namespace"], p["MetricName"], p.get("Statistic") or p.get("ExtendedStatistic"))
            expression = [m["Expression"] for m in p["Metrics"] if m.get("ReturnData", True)]
            used = sorted((m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
                           m["MetricStat"]["Stat"]) for m in p["Metrics"] if "MetricStat" in m)
            return (tuple(expression), tuple(used))
        def alarms(resources):
            return Counter((watched(a["Properties"]), a["Properties"]["Threshold"], a["Properties"]["EvaluationPeriods"])
                           for a in resources.values() if a["Type"] == "AWS::CloudWatch::Alarm")
        self.assertEqual(alarms(self.cdk), alarms(CFN))

    def test_documents_bucket_lifecycle_is_the_same(self):
        def rules(resources):
            [bucket] = [r for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("DocumentsBucket")]
            return sorted(json.dumps({k: v for k, v in r.items() if k != "Id"}, sort_keys=True)
                          for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"])
        self.assertEqual(rules(self.cdk), rules(CFN))
        self.assertTrue(any('"Prefix": "uploads/"' in r and '"ExpirationInDays": 1' in r for r in rules(CFN)))

    def test_table_is_the_same(self):
        [c] = [r["Properties"] for r in self.cdk.values() if r["Type"] == "AWS::DynamoDB::Table"]
        [s] = [r["Properties"] for r in CFN.values() if r["Type"] == "AWS::DynamoDB::Table"]
        for key in ("KeySchema", "GlobalSecondaryIndexes", "TimeToLiveSpecification", "PointInTimeRecoverySpecification", "BillingMode"):
            self.assertEqual(c[key], s[key], key)
        self.assertEqual(sorted(map(json.dumps, c["AttributeDefinitions"])), sorted(map(json.dumps, s["AttributeDefinitions"])))


if __name__ == "__main__":
    unittest.main()
