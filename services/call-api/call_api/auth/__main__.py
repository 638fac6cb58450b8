"""`python -m call_api.auth`: make gateway keys and mint call tokens.

new-key --gateway ID     a new key, and the CALL_API_GATEWAY_KEYS entry that admits it
hash KEY                 the entry for an existing key
mint --key KEY [--call-id ID] [--ttl SECONDS]
                         a call token (reads CALL_API_GATEWAY_KEYS and CALL_API_TOKEN_SECRET)"""

import argparse
import os
import sys

from call_api.auth.keys import find_gateway, hash_key, new_gateway_key, parse_gateway_keys, valid_gateway_id
from call_api.auth.tokens import mint_call_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m call_api.auth", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key")
    new_key.add_argument("--gateway", required=True)
    hashed = commands.add_parser("hash")
    hashed.add_argument("key")
    hashed.add_argument("--gateway", default="gateway")
    mint = commands.add_parser("mint")
    mint.add_argument("--key", default=os.environ.get("VOICEBOT_GATEWAY_TOKEN"))
    mint.add_argument("--call-id")
    mint.add_argument("--ttl", type=int, default=60)
    args = parser.parse_args(argv)

    if args.command in ("new-key", "hash") and not valid_gateway_id(args.gateway):
        parser.error("--gateway: 1-64 of A-Z a-z 0-9 _ . -")
    if args.command == "new-key":
        key = new_gateway_key()
        print(f"GATEWAY_KEY={key}")
        print(f"CALL_API_GATEWAY_KEYS entry: {args.gateway}:{hash_key(key)}")
        return 0
    if args.command == "hash":
        print(f"{args.gateway}:{hash_key(args.key)}")
        return 0
    secret = os.environ.get("CALL_API_TOKEN_SECRET")
    if not secret or not args.key:
        print("mint needs --key (or VOICEBOT_GATEWAY_TOKEN) and CALL_API_TOKEN_SECRET", file=sys.stderr)
        return 2
    gateway_id = find_gateway(parse_gateway_keys(os.environ.get("CALL_API_GATEWAY_KEYS", "")), args.key)
    if gateway_id is None:
        print("that key is not in CALL_API_GATEWAY_KEYS", file=sys.stderr)
        return 2
    token, _ = mint_call_token(secret.encode(), gateway_id, ttl_seconds=args.ttl, call_id=args.call_id)
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
