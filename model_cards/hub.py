"""Optional push of a rendered card to the Hugging Face Hub. Needs a token in the environment and network."""

import os
from pathlib import Path

from model_cards.publishing import card_files
from model_cards.redaction import redact


class HubPushError(RuntimeError):
    """The push did not happen; the message says why and never contains the token."""


def push_to_hub(
    card_dir: Path,
    repo_id: str,
    token_env: str = "HF_TOKEN",
    *,
    private: bool = True,
    endpoint: str | None = None,
) -> str:
    """Upload the card's files (README.md, card.json, card.html, charts, attribution) in one Hub commit.

    The token is read from the environment variable `token_env` and is never logged or put in an error.
    One commit means the Hub never shows a half-uploaded card. Returns the commit URL.
    """
    card_dir = Path(card_dir)
    files = card_files(card_dir)  # refuse an incomplete card before touching the network
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise HubPushError(
            f"no Hugging Face token: set the {token_env} environment variable to a token with write access "
            f"(https://huggingface.co/settings/tokens) to push {card_dir} to {repo_id}; nothing was uploaded"
        )
    from huggingface_hub import HfApi  # imported here: rendering and publishing never need the client

    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=card_dir,
            allow_patterns=files,
            commit_message=f"Model card from {card_dir.name}",
        )
    except Exception as exc:
        reason = redact(f"{type(exc).__name__}: {exc}", [token])
        # `from None`: the chained traceback could carry request headers; the reason above is enough.
        raise HubPushError(
            f"could not push {card_dir} to the Hub repo {repo_id} ({reason}); check the network, the token's "
            "write access and the repo id. The upload is a single commit, so no partial card was written"
        ) from None
    return str(info.commit_url)
