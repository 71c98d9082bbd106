"""Cold start of every RaGenie function, measured the way Lambda sees it.

For each function binary this starts a fake Lambda Runtime API on 127.0.0.1 (the same HTTP
protocol Lambda's runtime interface speaks), launches the binary with AWS_LAMBDA_RUNTIME_API
pointing at it and the AWS services pointing at moto, and records:

* init: process start -> the runtime's first `GET /runtime/invocation/next` (tracing, config,
  SDK clients and secrets done; what Lambda bills as Init Duration);
* first answer: process start -> the response to a `GET /<fn>/health` API Gateway event
  (a real table round trip through the router).

It also zips each binary (as a Lambda deployment package) and reports its size.
Usage: cold_start.py BIN_DIR MOTO_URL OUT_JSON [ARM64_DIR]
"""
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FUNCTIONS = ["auth", "users", "documents", "conversations", "chat"]
# (row label, function, extra environment): every function as deployed by default, plus
# documents and chat with hybrid retrieval on (provider keys read from the secret, an
# embedding client built at start).
HYBRID = {"RAGENIE_EMBEDDING_MODEL": "text-embedding-3-small", "RAGENIE_EMBEDDING_DIMENSIONS": "512"}
VARIANTS = [(f, f, {}) for f in FUNCTIONS] + [
    ("documents-hybrid", "documents", HYBRID),
    ("chat-hybrid", "chat", HYBRID),
]
# And with the built-in embedding model loaded at init (its weights folder given by the
# script, as the Lambda layer puts it at /opt/models/<name>).
MODEL_DIR = os.environ.get("RAGENIE_BENCH_MODEL_DIR", "")
if MODEL_DIR:
    LOCAL = {"RAGENIE_EMBEDDING_MODEL": "local:all-MiniLM-L6-v2", "RAGENIE_EMBEDDING_MODEL_DIR": MODEL_DIR}
    VARIANTS += [("documents-local-model", "documents", LOCAL), ("chat-local-model", "chat", LOCAL)]
LAYER_FILES = ["model.safetensors", "tokenizer.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json"]
ROUNDS = int(os.environ.get("ROUNDS", "5"))


def health_event(function):
    path = f"/{function}/health"
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "bench.local"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
            "domainPrefix": "bench", "requestId": "bench-request", "routeKey": "$default",
            "stage": "$default", "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
        },
        "isBase64Encoded": False,
    }


class Runtime(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, function):
        super().__init__(("127.0.0.1", 0), Handler)
        self.function = function
        self.started = None
        self.init_at = None
        self.answer_at = None
        self.status = None
        self.error = None
        self.done = threading.Event()
        self.served = False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        rt = self.server
        if self.path.endswith("/runtime/invocation/next"):
            if rt.served:
                rt.done.wait(30)  # one invocation per cold start; the process is killed after
                self.send_response(500)
                self.end_headers()
                return
            rt.init_at = time.perf_counter()
            rt.served = True
            body = json.dumps(health_event(rt.function)).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", f"arn:aws:lambda:us-east-1:123456789012:function:ragenie-{rt.function}")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self):
        rt = self.server
        if "/response" in self.path:
            rt.answer_at = time.perf_counter()
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    data += self.rfile.read(size)
                    self.rfile.readline()
            else:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rt.status = parse_status(data)
        elif "/error" in self.path:
            rt.error = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode(errors="replace")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        rt.done.set()


def parse_status(data):
    try:
        if b"\x00" * 8 in data:  # streaming prelude: JSON, eight NULs, then the body
            prelude = json.loads(data.split(b"\x00" * 8, 1)[0])
            return prelude.get("statusCode")
        return json.loads(data).get("statusCode")
    except Exception:
        return None


def cold_start(binary, function, env):
    rt = Runtime(function)
    threading.Thread(target=rt.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{rt.server_address[1]}", AWS_LAMBDA_FUNCTION_NAME=f"ragenie-{function}",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/ragenie-{function}", AWS_LAMBDA_LOG_STREAM_NAME="bench")
    rt.started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = rt.done.wait(30)
    proc.kill()
    _, stderr = proc.communicate(timeout=10)
    rt.shutdown()
    if not finished or rt.error or rt.status != 200:
        raise SystemExit(f"{function}: no healthy answer (status {rt.status}, error {rt.error}): {stderr.decode()[-2000:]}")
    return (rt.init_at - rt.started) * 1000, (rt.answer_at - rt.started) * 1000


def zipped_mb(binary):
    target = binary + ".bench.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(binary, "bootstrap")
    size = os.path.getsize(target) / 1e6
    os.remove(target)
    return size


def layer_mb(model_dir):
    """The model's Lambda layer: zipped size and unzipped size, in MB."""
    target = os.path.join(model_dir, ".bench-layer.zip")
    unzipped = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for f in LAYER_FILES:
            path = os.path.join(model_dir, f)
            if os.path.exists(path):
                z.write(path, f"models/all-MiniLM-L6-v2/{f}")
                unzipped += os.path.getsize(path)
    size = os.path.getsize(target) / 1e6
    os.remove(target)
    return size, unzipped / 1e6


def main():
    bin_dir, moto, out = sys.argv[1], sys.argv[2], sys.argv[3]
    arm_dir = sys.argv[4] if len(sys.argv) > 4 else ""
    env = dict(os.environ, RAGENIE_STORE="aws", RAGENIE_TABLE="ragenie-bench", RAGENIE_BUCKET="ragenie-bench",
               RAGENIE_JWT_SECRET_ID="ragenie/jwt", RAGENIE_PROVIDER_KEYS_SECRET_ID="ragenie/provider-keys",
               AWS_ENDPOINT_URL=moto, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               RUST_LOG="warn")
    rows, figures = [], {}
    for label, function, extra in VARIANTS:
        binary = os.path.join(bin_dir, f"ragenie-{function}")
        samples = [cold_start(binary, function, dict(env, **extra)) for _ in range(ROUNDS)]
        inits = sorted(s[0] for s in samples)
        answers = sorted(s[1] for s in samples)
        init_ms, answer_ms = inits[len(inits) // 2], answers[len(answers) // 2]
        zip_mb = zipped_mb(binary)
        arm = os.path.join(arm_dir, f"ragenie-{function}", "bootstrap") if arm_dir else ""
        arm_zip = zipped_mb(arm) if arm and os.path.exists(arm) else None
        rows.append((label, init_ms, answer_ms, zip_mb, arm_zip))
        figures[f"{label.replace('-', '_')}_init_ms"] = round(init_ms, 2)
        figures[f"{label.replace('-', '_')}_first_answer_ms"] = round(answer_ms, 2)
        if not extra:
            figures[f"{function}_zip_mb"] = round(arm_zip if arm_zip else zip_mb, 2)
    figures["max_init_ms"] = round(max(r[1] for r in rows), 2)
    figures["max_first_answer_ms"] = round(max(r[2] for r in rows), 2)
    figures["max_zip_mb"] = round(max((r[4] if r[4] else r[3]) for r in rows), 2)
    figures["zip_arch"] = "arm64" if all(r[4] for r in rows) else "x86_64 (host build)"
    figures["rounds"] = ROUNDS
    if MODEL_DIR:
        zipped, unzipped = layer_mb(MODEL_DIR)
        figures["model_layer_zip_mb"] = round(zipped, 2)
        figures["model_layer_unzipped_mb"] = round(unzipped, 2)
        biggest = max(os.path.getsize(os.path.join(bin_dir, f"ragenie-{f}")) for f in ("documents", "chat")) / 1e6
        figures["function_plus_layer_unzipped_mb"] = round(biggest + unzipped, 2)
    print(f"Cold start, median of {ROUNDS} per function (fake Runtime API on 127.0.0.1, DynamoDB and Secrets Manager on moto)")
    print("| function | init ms (target < 50) | first answer ms | zip MB host | zip MB arm64 (target < 10) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for f, i, a, z, arm in rows:
        print(f"| {f} | {i:.1f} | {a:.1f} | {z:.2f} | {arm:.2f} |" if arm else f"| {f} | {i:.1f} | {a:.1f} | {z:.2f} | — |")
    print(f"max init {figures['max_init_ms']} ms ({figures['max_init_ms'] / 50:.2f}x the 50 ms target; a Rust hello-world: ~14 ms); max zip {figures['max_zip_mb']} MB ({figures['zip_arch']})")
    if MODEL_DIR:
        print(f"model layer: {figures['model_layer_zip_mb']} MB zipped, {figures['model_layer_unzipped_mb']} MB unzipped; "
              f"function + layer {figures['function_plus_layer_unzipped_mb']} MB unzipped (Lambda's limit: 250 MB; "
              f"a layer zip over 50 MB goes through S3, as CDK assets do)")
    with open(out, "w") as f:
        json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
