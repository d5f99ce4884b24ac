"""Activity names, the only thing workflows need to know about this package."""

VALIDATE_STORED_OFFER = "validate_stored_offer"
PROPOSE_LANDING_ZONE = "propose_landing_zone"
RENDER_STORED_LETTER = "render_stored_letter"
STORE_AUDIT_CHUNK = "store_audit_chunk"

# Offers started before documents went by reference still call these while they finish.
VALIDATE_OFFER = "validate_offer"
RENDER_AND_STORE_LETTER = "render_and_store_letter"
NOTIFY = "notify"
