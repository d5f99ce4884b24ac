"""Activity names, the only thing workflows need to know about this package."""

VALIDATE_OFFER = "validate_offer"
PROPOSE_LANDING_ZONE = "propose_landing_zone"
RENDER_AND_STORE_LETTER = "render_and_store_letter"
