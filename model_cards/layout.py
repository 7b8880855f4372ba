"""File names inside a card folder (a contract with the pipeline and with `publish`)."""

README = "README.md"  # the Hugging Face model card
CARD_JSON = "card.json"  # machine-readable: CardInputs dump + derived fields, incl. the card's file list
CARD_HTML = "card.html"  # standalone HTML rendering
CONFIG_FILE = "config.yaml"  # the resolved run config the card was rendered with (secrets redacted)
