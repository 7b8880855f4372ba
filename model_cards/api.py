"""What the pipeline calls in `model_cards`."""

from pathlib import Path

from pydantic import BaseModel

from model_cards.inputs import CardInputs


class CardResult(BaseModel):
    readme_path: Path  # Hugging Face model card (YAML metadata + markdown)
    json_path: Path  # machine-readable card.json
    html_path: Path | None = None
    files: list[Path] = []  # charts and attribution list the card links to (relative to its folder)


def render_card(inputs: CardInputs, out_dir: Path) -> CardResult:
    """Render README.md, card.json and card.html into out_dir, copying the charts the card shows."""
    raise NotImplementedError


def publish(card_dir: Path, dest: Path, model_name: str) -> Path:
    """Copy a rendered card to dest/<model_name>/ atomically (nothing partial on failure)."""
    raise NotImplementedError
