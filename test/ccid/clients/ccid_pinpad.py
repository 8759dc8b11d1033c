#!/usr/bin/python3
"""pyscard SCardControl against the socket in PCSCLITE_CSOCK_NAME. Reads one
JSON operation per stdin line and prints one JSON answer per operation:
  {"reader": R, "features": true}            -> {"features": {tag: ioctl}}
  {"reader": R, "feature": TAG, "data": HEX} -> {"rv": rv, "out": HEX} through
      the ioctl the reader lists for TAG ({"missing": true} if it lists none)
A reader is connected (shared, T=0|T=1) on first use."""
import json
import sys

from smartcard.scard import (
    SCARD_CTL_CODE, SCARD_LEAVE_CARD, SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_S_SUCCESS,
    SCARD_SCOPE_USER, SCARD_SHARE_SHARED, SCardConnect, SCardControl, SCardDisconnect,
    SCardEstablishContext, SCardReleaseContext,
)

CM_IOCTL_GET_FEATURE_REQUEST = SCARD_CTL_CODE(3400)


def check(what, rv):
    if rv != SCARD_S_SUCCESS:
        print(json.dumps({'error': what, 'rv': rv & 0xFFFFFFFF}), flush=True)
        sys.exit(1)


def features(card):
    rv, out = SCardControl(card, CM_IOCTL_GET_FEATURE_REQUEST, [])
    check('feature request', rv)
    found = {}
    i = 0
    while i + 6 <= len(out):
        found[out[i]] = int.from_bytes(bytes(out[i + 2:i + 6]), 'big')
        i += 2 + out[i + 1]
    return found


rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
check('establish', rv)
cards = {}
for line in sys.stdin:
    if not line.strip():
        continue
    op = json.loads(line)
    reader = op['reader']
    if reader not in cards:
        rv, card, _proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
        check('connect ' + reader, rv)
        cards[reader] = card
    card = cards[reader]
    found = features(card)
    if op.get('features'):
        print(json.dumps({'features': {str(k): v for k, v in found.items()}}), flush=True)
        continue
    if op['feature'] not in found:
        print(json.dumps({'missing': True}), flush=True)
        continue
    rv, out = SCardControl(card, found[op['feature']], list(bytes.fromhex(op.get('data', ''))))
    print(json.dumps({'rv': rv & 0xFFFFFFFF, 'out': bytes(out).hex()}), flush=True)
for card in cards.values():
    check('disconnect', SCardDisconnect(card, SCARD_LEAVE_CARD))
check('release', SCardReleaseContext(ctx))
