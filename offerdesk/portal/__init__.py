"""The portal: a JSON API and server-rendered pages over the engine, with sign-in, roles and an audit log."""
