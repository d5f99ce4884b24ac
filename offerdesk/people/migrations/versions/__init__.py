"""One file a revision, in order; the newest is the `head` this Offerdesk needs."""
