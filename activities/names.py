"""Activity names and the failure types activities raise: recorded in histories, so they never change.

The names are the activities' types in every history (`@activity.defn(name=...)`); workflows call the activities
by reference and never spell them. The failure types are not refusals (schemas.refusal): they say why an activity
failed, and the workflow's retry policies name those that another try cannot heal.
"""

VALIDATE_STORED_OFFER = "validate_stored_offer"
PROPOSE_LANDING_ZONE = "propose_landing_zone"
ASSESS_STORED_OFFER = "assess_stored_offer"
RENDER_STORED_LETTER = "render_stored_letter"
STORE_AUDIT_CHUNK = "store_audit_chunk"
POST_NOTICE = "post_notice"
"""A local activity: the notice into the outbox (and the inboxes); the worker's postman mails it."""

# Offers started before documents went by reference still call these while they finish.
VALIDATE_OFFER = "validate_offer"
RENDER_AND_STORE_LETTER = "render_and_store_letter"
NOTIFY = "notify"
"""Files and mails a notice as an activity of its own, retried by Temporal; offers since POST_NOTICE post instead."""

RULE_ERROR = "RuleError"
"""A validation rule or the landing-zone policy failed on this document: a bug, which no retry heals."""
LETTER_ERROR = "LetterError"
"""The letter could not be rendered from this offer."""
SIGNING_ERROR = "SigningError"
"""The letter could not be signed with the configured identity (a key that does not open, a token that refuses)."""
NOT_IN_STORE = "NotInStoreError"
"""A document, report or letter the offer names is not in the store."""
DAMAGED_OBJECT = "DamagedObjectError"
"""A stored object no longer matches its digest."""
MAIL_UNAVAILABLE = "MailUnavailable"
"""The mail server did not take every message of a notice; the retry sends the rest."""
MAIL_UNDELIVERABLE = "MailUndeliverable"
"""A message cannot go to its address through this mail server: an international address and a server without
SMTPUTF8, or an address that cannot be written in a mail. No retry heals it; the person's entry says why."""
