"""Last line of defence: no secret from the environment is written into a card.

The pipeline redacts secrets from the config it passes in; this scrubs the rendered text as well, in
case a secret reached a report some other way (a URL with a token in a component's source, say).
"""

import os
import re

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)
MIN_SECRET_LENGTH = 8  # shorter values ("1", "true") would match ordinary text
REDACTED = "[REDACTED]"


def environment_secrets() -> list[str]:
    """Values of environment variables whose names say they hold a secret."""
    values = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)  # longest first, so a secret containing another goes whole


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with every environment secret replaced by [REDACTED]."""
    for secret in environment_secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return text
