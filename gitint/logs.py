"""Log redaction: credentials never reach a log line (SPEC §4)."""

import logging
import re

SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:bearer|basic|token)?\s*[^\s,'\"}]+"),
    re.compile(r"(?i)(private-token[\"']?\s*[:=]\s*[\"']?)[^\s,'\"}]+"),
    re.compile(r"(?i)(aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)[^\s,'\"}]+"),
    re.compile(r"(?i)(secret[_-]?access[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s,'\"}]+"),
    re.compile(r"(?i)(jwt=)[^&\s]+"),
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"()\b(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat)_[A-Za-z0-9_]{10,}"),
]


def redact(text: str) -> str:
    """Replace anything shaped like a credential with [REDACTED]."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with credentials removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # tracebacks too, formatted once here
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install() -> None:
    """Redact every log record of the process as it is created, whichever logger or handler
    (werkzeug's request lines with ``?jwt=``, gunicorn's, ours, libraries')."""
    current = logging.getLogRecordFactory()
    if getattr(current, "gitint_redacting", False):
        return

    def make_record(*args, **kwargs):
        record = current(*args, **kwargs)
        RedactingFilter().filter(record)
        return record

    make_record.gitint_redacting = True
    logging.setLogRecordFactory(make_record)
