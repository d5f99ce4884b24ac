"""The vocabulary of Offerdesk: pydantic models shared by the CLI, the workflows and the activities."""
