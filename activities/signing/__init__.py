"""Letters signed with the office's key (PAdES, pyHanko), and checked by anyone who has the office's certificate.

`identity` loads the signing identity (a PKCS#12 file or a PKCS#11 token) and makes the development one; `sign`
signs a letter in a render process; `verify` checks one, for the CLI and the portal. pyHanko is imported by `sign`
and `verify` only, so the settings can name an identity without loading it.
"""
