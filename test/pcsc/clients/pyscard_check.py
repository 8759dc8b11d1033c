#!/usr/bin/python3
"""pyscard (python3-pyscard, Debian) against the socket in PCSCLITE_CSOCK_NAME.

Modes (one JSON object per line on stdout):
  basic READER_WITH_CARD      list, connect, transmit, status, disconnect
  wait-insert READER          getStatusChange until a card is present
  txn READER                  connect, begin; waits for a line on stdin; transmit, end
"""
import json
import sys

from smartcard.scard import (
    SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCARD_SHARE_SHARED,
    SCARD_STATE_EMPTY, SCARD_STATE_PRESENT, SCARD_STATE_UNAWARE, SCARD_LEAVE_CARD, SCARD_PCI_T1, SCARD_PCI_T0,
    SCardBeginTransaction, SCardConnect, SCardDisconnect, SCardEndTransaction, SCardEstablishContext,
    SCardGetStatusChange, SCardListReaders, SCardReleaseContext, SCardStatus, SCardTransmit,
)


def out(**kw):
    print(json.dumps(kw), flush=True)


def check(name, rv):
    if rv != SCARD_S_SUCCESS:
        out(step=name, rv=rv & 0xFFFFFFFF)
        sys.exit(1)


def pci(proto):
    return SCARD_PCI_T1 if proto == SCARD_PROTOCOL_T1 else SCARD_PCI_T0


mode, reader = sys.argv[1], sys.argv[2]
rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
check('establish', rv)
rv, readers = SCardListReaders(ctx, [])
check('list', rv)
out(step='list', readers=readers)

if mode == 'basic':
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    check('connect', rv)
    out(step='connect', protocol=proto)
    rv, resp = SCardTransmit(card, pci(proto), [0x00, 0xA4, 0x04, 0x00, 0x00])
    check('transmit', rv)
    out(step='transmit', response=bytes(resp).hex())
    rv, name, state, sproto, atr = SCardStatus(card)
    check('status', rv)
    out(step='status', name=name, state=state, protocol=sproto, atr=bytes(atr).hex())
    check('disconnect', SCardDisconnect(card, SCARD_LEAVE_CARD))
elif mode == 'wait-insert':
    rv, states = SCardGetStatusChange(ctx, 0, [(reader, SCARD_STATE_UNAWARE)])
    check('gsc-initial', rv)
    known = states[0][1]
    out(step='initial', state=known)
    while not (known & SCARD_STATE_PRESENT):
        rv, states = SCardGetStatusChange(ctx, 20000, [(reader, known)])
        check('gsc', rv)
        known = states[0][1]
    out(step='inserted', state=known, atr=bytes(states[0][2]).hex())
elif mode == 'txn':
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    check('connect', rv)
    out(step='connected')
    out(step='begin-sent')
    check('begin', SCardBeginTransaction(card))
    out(step='began')
    sys.stdin.readline()
    rv, resp = SCardTransmit(card, pci(proto), [0x00, 0xA4, 0x04, 0x00, 0x00])
    check('transmit', rv)
    check('end', SCardEndTransaction(card, SCARD_LEAVE_CARD))
    out(step='ended', response=bytes(resp).hex())
    check('disconnect', SCardDisconnect(card, SCARD_LEAVE_CARD))
check('release', SCardReleaseContext(ctx))
out(step='done')
