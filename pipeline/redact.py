"""Keep credentials out of logs.

The pipeline never logs credentials itself, but botocore does at DEBUG: every signed
request's ``Authorization`` header carries the access key id, and presigned URLs carry it in
``X-Amz-Credential``. A filter on the AWS libraries' loggers (and on the CLI's console
handler) rewrites such records before any handler sees them: known key values are replaced
outright, and the signing fields are masked by pattern whoever's keys they hold.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "<redacted>"

_PATTERNS = [
    # Authorization: AWS4-HMAC-SHA256 Credential=AKIA.../date/region/s3/aws4_request, ...
    # and the query string's X-Amz-Credential=AKIA...%2F...
    re.compile(r"(Credential=)[^,\s&'\"]+"),
    re.compile(r"(Signature=)[^,\s&'\"]+"),
    re.compile(r"(AWSAccessKeyId=)[^&\s'\"]+"),
    re.compile(r"(X-Amz-Security-Token=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}]+", re.IGNORECASE),
]

# Loggers of the libraries that sign requests; the filter goes on each of them, because a
# logger's filters apply only to records created on that very logger, not its children.
LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactCredentials(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            # short values would mask ordinary words; real keys are 16+ characters
            self._secrets.update(v for v in values if v and len(v) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to logging
            return True
        clean = redact(message, tuple(self._secrets))
        if clean != message:
            record.msg, record.args = clean, None
        return True


FILTER = RedactCredentials()


def protect(*secrets: str | None) -> None:
    """Mask ``secrets`` (the credentials a client resolved) and the signing fields in every
    record the AWS libraries log from now on."""
    FILTER.add(*secrets)
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in LIBRARIES]
    for name in [*LIBRARIES, *names]:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
