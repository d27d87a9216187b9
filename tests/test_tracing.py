"""meters/tracing.py in a process of its own (the tracer provider is global): a polled batch continues
the first sampled record's trace, a stored traceparent resumes it, log lines carry its ids, and with
no endpoint nothing is traced."""

import json
import os
import subprocess
import sys

PROBE = r'''
import json, logging
from meters import log, tracing
logger = log.configure("probe")

class Record:  # what aiokafka's consumer returns: headers as (str, bytes) pairs
    def __init__(self, headers): self.headers = headers

trace_id = "0af7651916cd43dd8448eb211c80319c"
records = [Record([("traceparent", f"00-{'1' * 32}-b7ad6b7169203332-00".encode())]),  # not sampled
           Record([]), Record([("traceparent", f"00-{trace_id}-b7ad6b7169203331-01".encode())])]
out = {"enabled": tracing._enabled, "sampled": len(tracing.sampled_contexts(records))}
with tracing.batch_span("work", tracing.sampled_contexts(records)) as span:
    out["batch_trace"] = f"{span.get_span_context().trace_id:032x}"
    out["recording"] = span.is_recording()
    parent = tracing.traceparent()
    logger.info("inside")
with tracing.resumed("later", parent) as span:
    out["resumed_trace"] = f"{span.get_span_context().trace_id:032x}"
with tracing.batch_span("idle", []) as span:
    out["unsampled_root_recording"] = span.is_recording()
print("RESULT " + json.dumps(out), flush=True)
'''


def probe(**env) -> tuple[dict, list[dict]]:
    run = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[7:])
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    return result, logs


def test_batches_continue_the_sampled_records_trace_and_logs_carry_it():
    # sampling 0: only a caller's sampled trace is kept; the endpoint is never reached in this probe
    result, logs = probe(METERS_OTLP_ENDPOINT="http://127.0.0.1:9/v1/traces", METERS_TRACE_SAMPLE_RATIO="0")
    assert result["enabled"] and result["sampled"] == 1
    assert result["batch_trace"] == result["resumed_trace"] == "0af7651916cd43dd8448eb211c80319c"
    assert result["recording"] and not result["unsampled_root_recording"]
    inside = next(entry for entry in logs if entry["msg"] == "inside")
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and len(inside["span_id"]) == 16
    assert inside["service"] == "probe"


def test_without_an_endpoint_nothing_is_traced():
    result, logs = probe(METERS_OTLP_ENDPOINT="")
    assert not result["enabled"] and result["sampled"] == 0 and not result["recording"]
    assert "trace_id" not in next(entry for entry in logs if entry["msg"] == "inside")
