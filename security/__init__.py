"""Accord's security plumbing: key rings, signed actor tokens, payload encryption.

| module | one job |
|---|---|
| `keys.py` | load a key ring (`kid:base64,...`) from the environment or a file |
| `actor_token.py` | mint and verify actor tokens (HS256 JWS); pure, no Temporal |
| `actor_binding.py` | carry the token as a Temporal header; check it in the workflow's validator |
| `codec.py` | AES-256-GCM `PayloadCodec` and the data converter that uses it |
| `codec_server.py` | the `/encode` and `/decode` HTTP endpoints for the Temporal web UI |
| `codec_http.py` | its HTTP on aiohttp: connection cap, bounded reads, stalled clients dropped |
| `settings.py` | the ACCORD_* settings of these modules, typed (pydantic-settings) |

The threat model and what each piece protects is in `SECURITY.md` at the repository root.
"""
