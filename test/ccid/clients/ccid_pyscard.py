#!/usr/bin/python3
"""pyscard against the socket in PCSCLITE_CSOCK_NAME: lists the readers, then
for each reader named on the command line connects (T=0|T=1), sends the hex
APDUs read from stdin (one per line) and prints one JSON object per reader."""
import json
import sys

from smartcard.scard import (
    SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCARD_SHARE_SHARED,
    SCARD_LEAVE_CARD, SCARD_PCI_T1, SCARD_PCI_T0, SCardConnect, SCardDisconnect, SCardEstablishContext,
    SCardListReaders, SCardReleaseContext, SCardStatus, SCardTransmit,
)


def check(what, rv):
    if rv != SCARD_S_SUCCESS:
        print(json.dumps({'error': what, 'rv': rv & 0xFFFFFFFF}), flush=True)
        sys.exit(1)


apdus = [bytes.fromhex(l.strip()) for l in sys.stdin if l.strip()]
rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
check('establish', rv)
rv, readers = SCardListReaders(ctx, [])
check('list', rv)
print(json.dumps({'readers': readers}), flush=True)
for reader in sys.argv[1:]:
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    check('connect ' + reader, rv)
    pci = SCARD_PCI_T1 if proto == SCARD_PROTOCOL_T1 else SCARD_PCI_T0
    answers = []
    for a in apdus:
        rv, resp = SCardTransmit(card, pci, list(a))
        check('transmit', rv)
        answers.append(bytes(resp).hex())
    rv, name, state, sproto, atr = SCardStatus(card)
    check('status', rv)
    print(json.dumps({'reader': name, 'protocol': proto, 'atr': bytes(atr).hex(), 'answers': answers}), flush=True)
    check('disconnect', SCardDisconnect(card, SCARD_LEAVE_CARD))
check('release', SCardReleaseContext(ctx))
