"""The fault proxy itself, checked with plain boto3 and raw HTTP against moto through it:
what it passes through arrives intact, and each fault looks to a client like the real one."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from tests.faultproxy import FaultProxy
from tests.s3server import s3_client

DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()


def client(proxy: FaultProxy, attempts: int = 4):
    """boto3 through the proxy, standard retries, ``attempts`` in all (Config's
    ``max_attempts`` would count retries only)."""
    return s3_client(proxy.url, retries={"mode": "standard", "total_max_attempts": attempts})


def stored_sha(s3, bucket: str, key: str) -> str:
    return hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def for_key(proxy: FaultProxy, key: str) -> list[tuple[str, object, object]]:
    return [
        (r["method"], r["status"], r["fault"]) for r in proxy.requests() if r["path"].endswith(key)
    ]


def test_pass_through_with_checksums(fault_proxy, s3_bucket, s3_endpoint):
    s3 = client(fault_proxy)
    put = s3.put_object(
        Bucket=s3_bucket, Key="a/b.bin", Body=io.BytesIO(DATA), ChecksumAlgorithm="SHA256"
    )
    got = s3.get_object(Bucket=s3_bucket, Key="a/b.bin", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"]  # botocore validated it on read
    assert hashlib.sha256(got["Body"].read()).hexdigest() == SHA
    # Anonymous GET through the proxy and straight from moto.
    for base in (fault_proxy.url, s3_endpoint):
        with urllib.request.urlopen(f"{base}/{s3_bucket}/a/b.bin", timeout=10) as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == SHA
    (put_log,) = [r for r in fault_proxy.requests() if r["method"] == "PUT"]
    # botocore sends a PUT body with Content-Length and Expect: 100-continue over plain HTTP
    # (aws-chunked trailers only over TLS): the proxy relayed the 100 and the body.
    assert put_log == put_log | {"status": 200, "framing": "length", "expect": True}
    assert put_log["body_bytes"] == len(DATA)


def test_503_slowdown_is_retried_then_succeeds(fault_proxy, s3_bucket):
    s3 = client(fault_proxy)
    fault_proxy.fail_next(2, status=503, method="PUT")
    resp = s3.put_object(Bucket=s3_bucket, Key="k", Body=io.BytesIO(DATA))
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    assert for_key(fault_proxy, "/k") == [
        ("PUT", 503, "503"),
        ("PUT", 503, "503"),
        ("PUT", 200, None),
    ]
    assert stored_sha(s3, s3_bucket, "k") == SHA


def test_500_on_read_is_retried_and_method_filter_holds(fault_proxy, s3_bucket):
    s3 = client(fault_proxy)
    s3.put_object(Bucket=s3_bucket, Key="k", Body=DATA)
    fault_proxy.fail_next(1, status=500, method="GET")
    s3.head_object(Bucket=s3_bucket, Key="k")  # HEAD does not match a GET fault
    body = s3.get_object(Bucket=s3_bucket, Key="k")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == SHA
    assert for_key(fault_proxy, "/k") == [
        ("PUT", 200, None),
        ("HEAD", 200, None),
        ("GET", 500, "500"),
        ("GET", 200, None),
    ]
    assert fault_proxy.pending() == []


def test_errors_beyond_the_retries_reach_the_client_as_s3_errors(fault_proxy, s3_bucket):
    s3 = client(fault_proxy, attempts=2)
    fault_proxy.fail_next(5, status=503)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=s3_bucket, Key="k", Body=DATA)
    assert err.value.response["Error"]["Code"] == "SlowDown"  # parsed from the XML body
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    fault_proxy.clear()
    fault_proxy.fail_next(1, status=500)
    with pytest.raises(ClientError) as err:
        client(fault_proxy, attempts=1).head_object(Bucket=s3_bucket, Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert [r["status"] for r in fault_proxy.requests()] == [503, 503, 500]


def test_dropped_upload_is_retried_and_the_partial_one_stored_nothing(fault_proxy, s3_bucket):
    fault_proxy.drop_next(1, after_bytes=50_000)
    with pytest.raises(ConnectionClosedError):  # no retries: the drop itself is visible
        client(fault_proxy, attempts=1).put_object(Bucket=s3_bucket, Key="k", Body=DATA)
    s3 = client(fault_proxy)
    with pytest.raises(ClientError, match="404"):
        s3.head_object(Bucket=s3_bucket, Key="k")  # moto got 50 kB of 200 and kept nothing

    fault_proxy.drop_next(2, after_bytes=1000, method="PUT")
    resp = s3.put_object(Bucket=s3_bucket, Key="k", Body=io.BytesIO(DATA))
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    assert stored_sha(s3, s3_bucket, "k") == SHA
    drops = [r for r in fault_proxy.requests() if r["status"] == "dropped"]
    assert [r["body_bytes"] for r in drops] == [50_000, 1000, 1000]
    assert for_key(fault_proxy, "/k")[-4:] == [
        ("PUT", "dropped", "drop"),
        ("PUT", "dropped", "drop"),
        ("PUT", 200, None),
        ("GET", 200, None),
    ]


def test_chunked_bodies_and_keep_alive(fault_proxy, s3_bucket):
    """Raw HTTP/1.1 on one connection: chunked PUT, a 503 that keeps the connection, a
    chunked PUT dropped mid-body, and the data read back."""
    conn = http.client.HTTPConnection("127.0.0.1", fault_proxy.port, timeout=10)
    pieces = [DATA[i : i + 30_000] for i in range(0, len(DATA), 30_000)]
    conn.request("PUT", f"/{s3_bucket}/chunked", body=iter(pieces), encode_chunked=True)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    fault_proxy.fail_next(1, status=503, method="GET")
    conn.request("GET", f"/{s3_bucket}/chunked")
    resp = conn.getresponse()
    assert resp.status == 503 and b"<Code>SlowDown</Code>" in resp.read()
    conn.request("GET", f"/{s3_bucket}/chunked")  # same connection
    resp = conn.getresponse()
    assert resp.status == 200 and hashlib.sha256(resp.read()).hexdigest() == SHA
    conn.close()

    fault_proxy.drop_next(1, after_bytes=40_000)
    conn = http.client.HTTPConnection("127.0.0.1", fault_proxy.port, timeout=10)
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        conn.request("PUT", f"/{s3_bucket}/cut", body=iter(pieces), encode_chunked=True)
        conn.getresponse().read()
    conn.close()
    entries = fault_proxy.requests()
    assert [(r["method"], r["status"], r["framing"]) for r in entries] == [
        ("PUT", 200, "chunked"),
        ("GET", 503, "none"),
        ("GET", 200, "none"),
        ("PUT", "dropped", "chunked"),
    ]
    assert entries[-1]["body_bytes"] == 40_000
    with pytest.raises(ClientError, match="404"):
        client(fault_proxy).head_object(Bucket=s3_bucket, Key="cut")


def test_kill_refuses_connections_and_restart_serves_on_the_same_port(fault_proxy, s3_bucket):
    s3 = client(fault_proxy, attempts=1)
    s3.put_object(Bucket=s3_bucket, Key="k", Body=DATA)
    url = fault_proxy.url
    fault_proxy.fail_next(3)
    fault_proxy.kill()
    assert not fault_proxy.alive
    with pytest.raises(EndpointConnectionError):
        s3.head_object(Bucket=s3_bucket, Key="k")
    started = time.monotonic()
    fault_proxy.restart()
    assert time.monotonic() - started < 5
    assert fault_proxy.url == url and fault_proxy.pending() == []  # faults do not survive
    body = s3.get_object(Bucket=s3_bucket, Key="k")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == SHA
    assert [r["method"] for r in fault_proxy.requests()] == ["PUT", "GET"]  # log survives
